#!/usr/bin/env node
// The official MCP conformance suite in its authorization-server mode, with this script as the user.
//
// The suite (@modelcontextprotocol/conformance@0.2.0-alpha.12, the first version with the
// `authorization` command and --resource; it needs Node 22, which npx brings as the `node@22`
// package) runs two scenarios: `authorization-server-metadata-endpoint` (RFC 8414 document:
// authorization/token endpoints, response_types_supported ∋ code, code_challenge_methods_supported ∋
// S256, issuer = --url exactly; a WARNING when client_id_metadata_document_supported is not true)
// and `authorization-code-grant` (prints an authorization URL, waits for its callback on
// 127.0.0.1:PORT/callback, checks code/state/iss, exchanges the code as a public client and checks
// the token response: 200, application/json, Cache-Control no-store, access_token, token_type).
// It prints only a summary; the reasons are in DIR/*/checks.json, which this script prints.
//
//   node conformance.mjs ISSUER [--client-id ID] [--resource URI] [--port 3000] [--out DIR]
// Without --client-id a public client is registered by DCR with redirect http://127.0.0.1:PORT/callback.
// env: E2E_USERNAME, E2E_PASSWORD (required), E2E_CONFORMANCE_TIMEOUT_MS (default 240000, which
//      includes the first npx download of Node 22 and the suite).
// Exit code: the suite's (0 = no FAILURE; WARNING and SKIPPED do not fail it); 1 when this script
// fails (no URL printed, sign-in failed, timeout); 2 on a usage error.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { assertLoopback, driveAuthorization, fetchWithTimeout } from './lib/forms.mjs';

const SUITE = '@modelcontextprotocol/conformance@0.2.0-alpha.12';
const NODE = 'node@22';

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'client-id': { type: 'string' },
      resource: { type: 'string' },
      port: { type: 'string', default: '3000' },
      out: { type: 'string', default: resolve(import.meta.dirname, 'output', 'conformance') },
    },
  });
  if (parsed.positionals.length !== 1) throw new Error('one ISSUER is needed');
} catch (e) {
  console.error(`${e.message}\nusage: node conformance.mjs ISSUER [--client-id ID] [--resource URI] [--port 3000] [--out DIR]`);
  process.exit(2);
}
const issuer = parsed.positionals[0];
const { resource, out } = parsed.values;
const port = Number(parsed.values.port);
const redirectUri = `http://127.0.0.1:${port}/callback`;
const username = process.env.E2E_USERNAME;
const password = process.env.E2E_PASSWORD;
const log = (...a) => console.error('[conformance]', ...a);
const fail = (msg) => { log(`FAILED: ${msg}`); process.exitCode = 1; };

assertLoopback(issuer, 'issuer');
if (!username || !password) { console.error('E2E_USERNAME and E2E_PASSWORD must be set'); process.exit(2); }

// The metadata, for the authorization endpoint (to recognise the URL the suite prints) and DCR.
const metadataUrl = new URL(`/.well-known/oauth-authorization-server${new URL(issuer).pathname.replace(/\/$/, '')}`, issuer);
const mdRes = await fetchWithTimeout(metadataUrl);
if (mdRes.status !== 200) { fail(`GET ${metadataUrl} answered ${mdRes.status}`); process.exit(1); }
const metadata = await mdRes.json();

let clientId = parsed.values['client-id'];
if (!clientId) {
  if (!metadata.registration_endpoint) { fail('no --client-id and no registration_endpoint in the metadata'); process.exit(1); }
  const r = await fetchWithTimeout(assertLoopback(metadata.registration_endpoint, 'registration_endpoint'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      client_name: 'e2e: MCP conformance suite', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    }),
  });
  const body = await r.text();
  if (r.status !== 201 && r.status !== 200) { fail(`registration answered ${r.status}: ${body}`); process.exit(1); }
  clientId = JSON.parse(body).client_id;
  log(`registered public client ${clientId} with redirect ${redirectUri}`);
}

// A fresh output folder, so only this run's checks.json files are read.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const args = ['-y', '-p', NODE, '-p', SUITE, '--', 'conformance', 'authorization',
  '--url', issuer, '--client-id', clientId, '--port', String(port), '-o', out,
  ...(resource ? ['--resource', resource] : [])];
log('npx', args.join(' '));
// Its own process group, so the timeout can end npx, Node 22 and the suite together.
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
const killSuite = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
process.on('exit', killSuite);
// Stopped from outside (scripts/e2e.sh's timeout, Ctrl-C): take the suite down too.
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { fail(`stopped by ${sig}`); killSuite(); process.exit(1); });
const timeoutMs = Number(process.env.E2E_CONFORMANCE_TIMEOUT_MS || 240_000);
const timer = setTimeout(() => { fail(`the suite did not finish within ${timeoutMs / 1000} s`); killSuite(); }, timeoutMs);

// npm's EBADENGINE warnings and npx chatter go to stderr; keep the rest.
child.stderr.on('data', (chunk) => {
  for (const line of chunk.toString().split('\n')) if (line.trim() && !/EBADENGINE|npm warn/i.test(line)) process.stderr.write(`[suite] ${line}\n`);
});

// The suite prints the authorization URL alone on a line: authorization_endpoint + '?' + params.
const urlPrefix = `${metadata.authorization_endpoint}?`;
let buffered = '';
let driving = null;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffered += chunk.toString();
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (!driving && line.startsWith(urlPrefix)) driving = deliver(line);
  }
});

async function deliver(authorizationUrl) {
  try {
    const { callbackUrl, trail } = await driveAuthorization(authorizationUrl, { redirectUri, username, password });
    log('sign-in and consent:', trail.join(', '));
    // The suite checks the callback itself: hand it over. Its listener starts just after it prints
    // the URL, so retry a refused connection for a few seconds.
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetchWithTimeout(callbackUrl, {}, 5_000);
        log(`callback delivered to the suite: HTTP ${r.status}`);
        return;
      } catch (e) {
        if (attempt >= 20) throw new Error(`could not deliver the callback to ${redirectUri}: ${e.message}`);
        await new Promise((s) => setTimeout(s, 250));
      }
    }
  } catch (e) {
    fail(e.message);
    killSuite();
  }
}

const suiteCode = await new Promise((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 1))));
clearTimeout(timer);
await driving;

// Every check of every scenario, with its reason.
let checks = 0;
if (existsSync(out)) {
  for (const dir of readdirSync(out).sort()) {
    const file = join(out, dir, 'checks.json');
    if (!existsSync(file)) continue;
    for (const c of JSON.parse(readFileSync(file, 'utf8'))) {
      checks++;
      log(`check ${c.status.padEnd(7)} ${c.id}${c.errorMessage ? ` - ${c.errorMessage}` : ''}`);
    }
  }
}
if (checks === 0) fail(`no checks.json under ${out}: the suite did not run its scenarios`);
if (!driving && process.exitCode !== 1) log('note: the suite printed no authorization URL (see the checks above)');
log(`suite exit code ${suiteCode}`);
process.exit(process.exitCode === 1 ? 1 : suiteCode);
