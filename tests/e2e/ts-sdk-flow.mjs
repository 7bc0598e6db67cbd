#!/usr/bin/env node
// The MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in package.json) against the
// authorization server, through the SDK's own exported functions, the way MCP clients use them:
//
//   discoverAuthorizationServerMetadata → registerClient (public client, loopback redirect)
//   → startAuthorization (PKCE S256, state) → the user signs in and allows (lib/forms.mjs)
//   → the callback has one code, our state, iss = issuer → exchangeAuthorization
//   → the access token verified locally with jose and the JWK Set (docs/resource-servers.md)
//   → refreshAuthorization twice, each returning a new refresh token (rotation for public clients)
//
//   node ts-sdk-flow.mjs ISSUER
// ISSUER exactly as the server's metadata spells it (no added or removed trailing slash).
// env: E2E_USERNAME, E2E_PASSWORD (required: the user that signs in)
//      E2E_SCOPE      scope to ask for (default: none, so the client's registered/default scope applies)
//      E2E_RESOURCE   RFC 8707 resource to ask for (default: none)
//      E2E_REDIRECT   redirect URI to register (default http://127.0.0.1:53682/callback; nothing needs
//                     to listen there: the driver reads the redirect's Location and stops)
//      E2E_TIMEOUT_MS the whole flow's limit (default 60000)
// Prints one JSON line per step, then a JSON summary; exits 0 on success, 1 with the reason on any
// failure, 2 on a usage error.
import {
  discoverAuthorizationServerMetadata,
  registerClient,
  startAuthorization,
  exchangeAuthorization,
  refreshAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { assertLoopback, checkCallback, driveAuthorization, fetchWithTimeout, redact, watchdog } from './lib/forms.mjs';

const log = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));
const redactTokens = (t) => ({ ...t, access_token: redact(t.access_token), refresh_token: redact(t.refresh_token), id_token: redact(t.id_token) });
// Every SDK call goes through this fetch: bounded, and only to loopback addresses.
const fetchFn = (url, init) => { assertLoopback(url, 'SDK request'); return fetchWithTimeout(url, init); };

export async function runFlow(issuer, {
  username = process.env.E2E_USERNAME,
  password = process.env.E2E_PASSWORD,
  scope = process.env.E2E_SCOPE || undefined,
  resource = process.env.E2E_RESOURCE || undefined,
  redirectUri = process.env.E2E_REDIRECT || 'http://127.0.0.1:53682/callback',
} = {}) {
  const started = Date.now();
  assertLoopback(issuer, 'issuer');

  // 1. RFC 8414 discovery: {origin}/.well-known/oauth-authorization-server{path}, then the OIDC
  //    locations. The SDK does not compare the issuer: we do, byte for byte.
  const metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn });
  if (!metadata) throw new Error(`no authorization server metadata at ${issuer}`);
  if (metadata.issuer !== issuer) throw new Error(`metadata issuer ${JSON.stringify(metadata.issuer)} differs from ${JSON.stringify(issuer)}`);
  for (const [member, value] of [['response_types_supported', 'code'], ['code_challenge_methods_supported', 'S256']]) {
    if (!metadata[member]?.includes(value)) throw new Error(`metadata ${member} ${JSON.stringify(metadata[member])} lacks ${value}`);
  }
  if (!metadata.registration_endpoint) throw new Error('metadata has no registration_endpoint (MCP clients register dynamically)');
  log('discovery', { issuer: metadata.issuer, endpoints: Object.fromEntries(Object.entries(metadata).filter(([k]) => k.endsWith('_endpoint'))) });

  // 2. RFC 7591 registration of a public client, as MCP clients do it.
  const clientInformation = await registerClient(issuer, {
    metadata,
    fetchFn,
    clientMetadata: {
      client_name: 'e2e: MCP TypeScript SDK',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(scope ? { scope } : {}),
    },
  });
  if (!clientInformation.client_id) throw new Error('registration answered without client_id');
  log('registerClient', { client_id: clientInformation.client_id, token_endpoint_auth_method: clientInformation.token_endpoint_auth_method });

  // 3. The authorization URL: response_type=code, PKCE S256 (43-character verifier), our state.
  const state = randomBytes(24).toString('base64url');
  const { authorizationUrl, codeVerifier } = await startAuthorization(issuer, {
    metadata, clientInformation, redirectUrl: redirectUri, scope, state, resource,
  });
  log('startAuthorization', { authorizationUrl: authorizationUrl.href });

  // 4. The user: sign in, allow; the server redirects to redirectUri with code, state, iss.
  const { callbackUrl, trail } = await driveAuthorization(authorizationUrl.href, { redirectUri, username, password });
  const code = checkCallback(callbackUrl, { state, issuer: metadata.issuer, requireIss: metadata.authorization_response_iss_parameter_supported === true });
  log('callback', { trail, code: redact(code), state_ok: true, iss: new URL(callbackUrl).searchParams.get('iss') });

  // 5. Code exchange (public client: client_id in the body, the PKCE verifier).
  const tokens = await exchangeAuthorization(issuer, {
    metadata, clientInformation, authorizationCode: code, codeVerifier, redirectUri, resource, fetchFn,
  });
  if (String(tokens.token_type).toLowerCase() !== 'bearer') throw new Error(`token_type ${tokens.token_type} is not Bearer`);
  if (!tokens.refresh_token) throw new Error('the code exchange issued no refresh_token although the client registered for refresh_token');
  log('exchangeAuthorization', { tokens: redactTokens(tokens) });

  // 5b. A resource server's local validation, exactly as docs/resource-servers.md shows it (jose):
  //     the JWK Set from jwks_uri, typ at+jwt, the issuer, and the audience (the resource asked
  //     for; without one the server's default, the issuer).
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
    issuer: metadata.issuer,
    audience: resource ?? metadata.issuer,
    typ: 'at+jwt',
    algorithms: ['ES256', 'EdDSA', 'RS256'],
    clockTolerance: 60,
  });
  if (payload.client_id !== clientInformation.client_id) throw new Error(`access token client_id ${payload.client_id} is not ours`);
  if (!payload.sub || !payload.jti || !payload.exp) throw new Error('access token lacks sub, jti or exp (RFC 9068 §2.2)');
  log('verifyAccessToken', { alg: protectedHeader.alg, typ: protectedHeader.typ, aud: payload.aud, scope: payload.scope ?? '' });

  // 6. Two refreshes. refreshAuthorization keeps the OLD refresh token in its result when the
  //    response has none, so rotation is checked by comparing values; the old one must be gone.
  let refreshToken = tokens.refresh_token;
  const seen = new Set([refreshToken]);
  for (let i = 1; i <= 2; i++) {
    const refreshed = await refreshAuthorization(issuer, { metadata, clientInformation, refreshToken, resource, fetchFn });
    if (!refreshed.access_token) throw new Error(`refresh #${i} returned no access_token`);
    if (seen.has(refreshed.refresh_token)) throw new Error(`refresh #${i} did not rotate the refresh token (public clients must get a new one each time)`);
    seen.add(refreshed.refresh_token);
    log(`refreshAuthorization#${i}`, { tokens: redactTokens(refreshed), rotated: true });
    refreshToken = refreshed.refresh_token;
  }

  return {
    ok: true,
    issuer: metadata.issuer,
    client_id: clientInformation.client_id,
    scope: tokens.scope ?? null,
    expires_in: tokens.expires_in ?? null,
    refreshes: 2,
    trail,
    elapsed_ms: Date.now() - started,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const issuer = process.argv[2];
  if (!issuer || process.argv.length > 3) {
    console.error('usage: node ts-sdk-flow.mjs ISSUER   (env E2E_USERNAME, E2E_PASSWORD; see the header of this file)');
    process.exit(2);
  }
  watchdog(Number(process.env.E2E_TIMEOUT_MS || 60_000), 'ts-sdk-flow');
  runFlow(issuer).then(
    (summary) => { log('summary', summary); process.exit(0); },
    (e) => {
      log('summary', { ok: false, error: e?.message ?? String(e), oauth_error: e?.errorCode });
      console.error(`FAILED: ts-sdk-flow: ${e?.message ?? e}`);
      process.exit(1);
    },
  );
}
