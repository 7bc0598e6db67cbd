// The "user" of the end-to-end tests, shared by ts-sdk-flow.mjs and conformance.mjs: follows an
// authorization URL like a browser without JavaScript would, with a cookie jar, and submits the
// sign-in and consent pages the server renders, until the server redirects to the client's
// redirect URI. It never fetches that redirect itself: the caller decides (conformance.mjs must
// deliver it to the suite's listener; ts-sdk-flow.mjs only reads the parameters).
//
// Forms are parsed generically, so the page templates may change freely as long as:
//   - each step is one HTML page with a <form action=… method=…> (GET or POST);
//   - hidden inputs (csrf_token, the pending request id, …) are copied as they are;
//   - the sign-in form has an input named `username` (or type=email / autocomplete=username) and
//     an input of type=password;
//   - the consent form's submit control (a <button> or <input type=submit>) says Allow, by its
//     value or its text (`<button name="decision" value="allow">Allow</button>`): the first form
//     with such a control is submitted, with that control's name=value.
// Everything is bounded: each request has a timeout, and the whole walk a number of steps.

export const DEFAULT_REQUEST_TIMEOUT_MS = Number(process.env.E2E_REQUEST_TIMEOUT_MS || 10_000);

/** Refuses any URL that is not plain http(s) on a loopback address: the tests talk to nothing else. */
export function assertLoopback(url, what = 'URL') {
  const u = new URL(url);
  if (!['http:', 'https:'].includes(u.protocol) || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    throw new Error(`${what} ${u.href} is not on a loopback address; the e2e tests only talk to 127.0.0.1`);
  }
  return u;
}

/** fetch with a timeout and a message that names the request when it fails. */
export async function fetchWithTimeout(url, init = {}, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why = e?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e?.cause?.message ?? e?.message ?? String(e));
    throw new Error(`${init.method ?? 'GET'} ${url}: ${why}`);
  }
}

/** Exits the process with status 1 and `message` once `ms` have passed (a watchdog for a whole script). */
export function watchdog(ms, message) {
  const t = setTimeout(() => {
    console.error(`FAILED: ${message} (still running after ${Math.round(ms / 1000)} s)`);
    process.exit(1);
  }, ms);
  t.unref();
  return t;
}

// ------------------------------------------------------------------------------ HTML parsing
// A small tolerant parser for server-rendered pages: attributes with or without quotes, entities.

const decodeEntities = (s) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|nbsp);/gi, (_, e) => {
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }[l];
  });

function parseAttrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([^\s"'>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

const textOf = (html) => decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

/** Every <form> of a page: its attributes, inputs, and submit controls (buttons and input type=submit). */
export function parseForms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)].map((m) => {
    const inputs = [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => parseAttrs(i[1]));
    const buttons = [...m[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)]
      .map((b) => ({ ...parseAttrs(b[1]), text: textOf(b[2]) }))
      .filter((b) => !b.type || b.type.toLowerCase() === 'submit');
    const submitInputs = inputs
      .filter((i) => ['submit', 'image'].includes((i.type ?? '').toLowerCase()))
      .map((i) => ({ ...i, text: i.value ?? '' }));
    return { attrs: parseAttrs(m[1]), inputs, submits: [...buttons, ...submitInputs] };
  });
}

/** The page's <title>, or the start of its text: for error messages. */
export function describePage(html) {
  const title = html.match(/<title[^>]*>([\s\S]*?)<\/title>/i)?.[1];
  const body = textOf(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, '')).slice(0, 300);
  return title ? `"${textOf(title)}": ${body}` : body;
}

// ------------------------------------------------------------------------------ cookie jar
// One authorization server origin at a time, so names are enough (Path and Domain are ignored).
// Cookies marked Secure are still sent: the tests run on plain http to 127.0.0.1.

export class CookieJar {
  constructor() { this.cookies = new Map(); }
  store(res) {
    for (const sc of res.headers.getSetCookie?.() ?? []) {
      const [nv, ...attrs] = sc.split(';');
      const eq = nv.indexOf('=');
      if (eq < 0) continue;
      const name = nv.slice(0, eq).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, nv.slice(eq + 1).trim());
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

// ------------------------------------------------------------------------------ the driver

const ALLOW = /\b(allow|approve|accept|authori[sz]e|consent|grant|yes)\b/i;
const DENY = /\b(deny|reject|decline|cancel|no)\b/i;
const isUsernameInput = (i) => i.name === 'username' || (i.type ?? '').toLowerCase() === 'email' || i.autocomplete === 'username';
const isPasswordInput = (i) => (i.type ?? '').toLowerCase() === 'password';

/** The form to submit on a page, and which kind of page it is. */
function chooseForm(forms, decision) {
  const signIn = forms.find((f) => f.inputs.some(isPasswordInput));
  if (signIn) return { form: signIn, kind: 'sign-in', submit: signIn.submits.find((s) => s.name) ?? null };
  const want = decision === 'allow' ? ALLOW : DENY;
  for (const f of forms) {
    const submit = f.submits.find((s) => want.test(s.value ?? '') || want.test(s.text ?? ''));
    if (submit) return { form: f, kind: 'consent', submit };
  }
  return null;
}

/**
 * Walks from `authorizationUrl` through sign-in and consent.
 * Returns { callbackUrl, trail, pages } once the server redirects to `redirectUri` (compared by
 * origin and path; the query holds code/state/iss or error). `pages` maps a page kind to its HTML.
 * Throws with the trail of requests on anything unexpected: an HTTP error, a page without a
 * usable form, the sign-in form shown again after the credentials were sent (wrong password), or
 * too many steps.
 */
export async function driveAuthorization(authorizationUrl, {
  redirectUri, username, password, decision = 'allow', maxSteps = 20, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
}) {
  if (!username || !password) throw new Error('driveAuthorization: a username and a password are needed (E2E_USERNAME, E2E_PASSWORD)');
  const jar = new CookieJar();
  const target = new URL(redirectUri);
  let req = { url: assertLoopback(authorizationUrl, 'authorization URL'), method: 'GET', body: undefined };
  const trail = [];
  const pages = {};
  let signedIn = false;
  for (let step = 0; step < maxSteps; step++) {
    const headers = { Accept: 'text/html' };
    if (jar.cookies.size) headers.Cookie = jar.header();
    if (req.body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const res = await fetchWithTimeout(req.url, { method: req.method, headers, body: req.body, redirect: 'manual' }, timeoutMs);
    jar.store(res);
    trail.push(`${req.method} ${req.url.pathname} ${res.status}`);
    const where = () => `${req.method} ${req.url.href} (trail: ${trail.join(', ')})`;

    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (!location) throw new Error(`redirect ${res.status} without Location at ${where()}`);
      const next = new URL(location, req.url);
      if (next.origin === target.origin && next.pathname === target.pathname) return { callbackUrl: next.href, trail, pages };
      assertLoopback(next, 'redirect');
      req = { url: next, method: 'GET', body: undefined };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} at ${where()}: ${describePage(html)}`);

    const chosen = chooseForm(parseForms(html), decision);
    if (!chosen) throw new Error(`no sign-in form and no form with an "${decision}" button at ${where()}: ${describePage(html)}`);
    const { form, kind, submit } = chosen;
    if (kind === 'sign-in' && signedIn) {
      throw new Error(`the sign-in form came back after the credentials were sent (wrong username or password, or a CSRF/session problem) at ${where()}: ${describePage(html)}`);
    }
    signedIn ||= kind === 'sign-in';
    pages[kind] = html;

    const fields = new URLSearchParams();
    for (const i of form.inputs) {
      const type = (i.type ?? 'text').toLowerCase();
      if (!i.name || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if (isUsernameInput(i)) fields.append(i.name, username);
      else if (isPasswordInput(i)) fields.append(i.name, password);
      else if ((type === 'checkbox' || type === 'radio') && !('checked' in i)) continue;
      else fields.append(i.name, i.value ?? (type === 'checkbox' ? 'on' : ''));
    }
    if (submit?.name) fields.append(submit.name, submit.value ?? '');

    const action = new URL(submit?.formaction || form.attrs.action || req.url.href, req.url);
    assertLoopback(action, `the ${kind} form's action`);
    const method = (submit?.formmethod || form.attrs.method || 'GET').toUpperCase();
    if (method === 'POST') req = { url: action, method, body: fields.toString() };
    else { action.search = fields.toString(); req = { url: action, method: 'GET', body: undefined }; }
  }
  throw new Error(`no redirect to ${redirectUri} after ${maxSteps} requests (trail: ${trail.join(', ')})`);
}

/**
 * Checks an authorization response (RFC 6749 §4.1.2, RFC 9207): exactly one code, the state that
 * was sent, and `iss` equal to the issuer. Returns the code.
 */
export function checkCallback(callbackUrl, { state, issuer, requireIss = true }) {
  const p = new URL(callbackUrl).searchParams;
  if (p.has('error')) throw new Error(`the authorization server answered error=${p.get('error')} ${p.get('error_description') ?? ''} (${callbackUrl})`);
  if (p.getAll('code').length !== 1 || !p.get('code')) throw new Error(`the callback must carry exactly one non-empty code: ${callbackUrl}`);
  if (state !== undefined && (p.getAll('state').length !== 1 || p.get('state') !== state)) {
    throw new Error(`the callback's state ${JSON.stringify(p.getAll('state'))} differs from the one sent (${state})`);
  }
  if (requireIss || p.has('iss')) {
    if (p.getAll('iss').length !== 1 || p.get('iss') !== issuer) {
      throw new Error(`the callback's iss ${JSON.stringify(p.getAll('iss'))} must be exactly the issuer ${issuer} (RFC 9207)`);
    }
  }
  return p.get('code');
}

/** abcdef…(len) for logs: never print whole tokens or codes. */
export const redact = (t) => (typeof t === 'string' ? `${t.slice(0, 6)}…(${t.length})` : t);
