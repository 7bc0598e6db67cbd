#!/usr/bin/env python3
"""Drives the real authorization code flow over HTTP, for the token load tests
(scripts/loadtest-tokens.sh). Standard library only; no redirect is followed: each Location is read
and requested as a browser would, with the session cookie.

A "browser" signs in once (one Argon2id verification on the server) and then, for each code:
GET /authorize → 303 /consent?request=… → GET /consent (CSRF token) → POST /consent decision=allow
→ 302 redirect_uri?code=ac_…. Loopback redirect URIs are asked for consent every time, as a native
MCP client is. PKCE uses the RFC 7636 example pair.

usage:
  token_flow.py codes BASE CLIENT_ID N [--threads T]
      N codes, one per line (T browsers in parallel, each signed in once)
  token_flow.py refresh-tokens BASE CLIENT_ID N [--secret S] [--threads T]
      N codes, each exchanged at /token (client_secret_post when --secret): N refresh tokens
  token_flow.py access-token BASE CLIENT_ID [--secret S]
      one access token (a JWT)
  token_flow.py flows BASE CLIENT_ID N [--secret S]
      N whole flows in sequence, each by a new browser: authorize → sign-in page → sign-in
      (Argon2id) → consent page → allow → token; prints p50, p99, mean and max in ms
The user is PERF_USERNAME / PERF_PASSWORD from the environment (default perf-user / "perf user password").
"""
import http.client
import os
import re
import statistics
import sys
import threading
import time
import urllib.parse

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT = "http://127.0.0.1:53682/callback"
RESOURCE = "https://mcp.example.com/mcp"
USERNAME = os.environ.get("PERF_USERNAME", "perf-user")
PASSWORD = os.environ.get("PERF_PASSWORD", "perf user password")


class Browser:
    """One keep-alive connection and a cookie jar (name → value), like a browser tab."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.cookies = {}

    def request(self, method, path, form=None, cookies=True):
        headers = {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookies and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                res = self.conn.getresponse()
                data = res.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        if cookies:
            for header in res.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";")[0].partition("=")
                if not value or "Max-Age=0" in header:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return res.status, res.headers, data.decode("utf-8", "replace")

    def follow(self, location):
        """The path and query of a Location header (absolute or relative)."""
        url = urllib.parse.urlsplit(location)
        path = url.path if url.path.startswith("/") else "/" + url.path
        return path + ("?" + url.query if url.query else "")


def hidden_fields(html):
    form = html[html.index("<form"):html.index("</form>")]
    fields = []
    for tag in re.findall(r"<input[^>]*>", form):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]*)"', tag).group(1)
            value = re.search(r'value="([^"]*)"', tag)
            fields.append((name, value.group(1).replace("&amp;", "&") if value else ""))
    return fields


def authorize_path(client_id, state):
    return "/authorize?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE, "code_challenge_method": "S256", "state": state,
        "resource": RESOURCE,
    })


def expect(status, wanted, what, body=""):
    if status != wanted:
        raise SystemExit(f"token_flow: {what}: status {status}, wanted {wanted}: {body[:300]}")


def authorize(browser, client_id, state):
    """Runs authorize (→ sign-in when needed) → consent → allow; returns the code."""
    status, headers, body = browser.request("GET", authorize_path(client_id, state))
    expect(status, 303, "GET /authorize", body)
    location = browser.follow(headers["Location"])
    if location.startswith("/signin"):
        status, _, body = browser.request("GET", location)
        expect(status, 200, "GET /signin", body)
        form = hidden_fields(body) + [("username", USERNAME), ("password", PASSWORD)]
        status, headers, body = browser.request("POST", "/signin", form)
        expect(status, 303, "POST /signin", body)
        location = browser.follow(headers["Location"])
    status, _, body = browser.request("GET", location)
    expect(status, 200, "GET " + location, body)
    form = hidden_fields(body) + [("decision", "allow")]
    status, headers, body = browser.request("POST", "/consent", form)
    expect(status, 302, "POST /consent", body)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
    if query.get("state") != state or "code" not in query:
        raise SystemExit(f"token_flow: unexpected redirect {headers['Location']}")
    return query["code"]


def exchange(browser, client_id, code, secret=None):
    form = [("grant_type", "authorization_code"), ("client_id", client_id), ("code", code),
            ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)]
    if secret:
        form.append(("client_secret", secret))
    status, _, body = browser.request("POST", "/token", form, cookies=False)
    expect(status, 200, "POST /token (authorization_code)", body)
    return body


def in_parallel(base, n, threads, work):
    """Calls work(browser, i) for i in 0..n on `threads` browsers; returns the results in order."""
    results = [None] * n
    errors = []

    def run(first):
        try:
            browser = Browser(base)
            for i in range(first, n, threads):
                results[i] = work(browser, i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(min(threads, n))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return results


def option(args, name, default=None):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default


def main():
    args = sys.argv[1:]
    secret = option(args, "--secret")
    threads = int(option(args, "--threads", "4"))
    command, base, client_id = args[0], args[1], args[2]
    n = int(args[3]) if len(args) > 3 else 1
    started = time.monotonic()
    if command == "codes":
        codes = in_parallel(base, n, threads, lambda b, i: authorize(b, client_id, f"s{i}"))
        sys.stdout.write("\n".join(codes) + "\n")
    elif command == "refresh-tokens":
        def one(browser, i):
            body = exchange(browser, client_id, authorize(browser, client_id, f"s{i}"), secret)
            return re.search(r'"refresh_token":"([^"]+)"', body).group(1)
        sys.stdout.write("\n".join(in_parallel(base, n, threads, one)) + "\n")
    elif command == "access-token":
        browser = Browser(base)
        body = exchange(browser, client_id, authorize(browser, client_id, "s"), secret)
        print(re.search(r'"access_token":"([^"]+)"', body).group(1))
    elif command == "flows":
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            browser = Browser(base)
            exchange(browser, client_id, authorize(browser, client_id, f"f{i}"), secret)
            times.append((time.perf_counter() - t0) * 1000)
            browser.conn.close()
        times.sort()
        p = lambda q: times[min(len(times) - 1, int(round(q * (len(times) - 1))))]  # noqa: E731
        print(f"{p(0.5):.1f} {p(0.99):.1f} {statistics.mean(times):.1f} {times[-1]:.1f}")
    else:
        raise SystemExit(__doc__)
    print(f"token_flow: {command} {n} in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
