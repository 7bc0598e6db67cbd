#!/usr/bin/env python3
"""The MCP Python SDK (mcp, pinned in requirements.txt) against the authorization server, as an MCP
client meets it in practice: through a protected MCP server.

1. Starts a small MCP resource server (the SDK's MCPServer, streamable HTTP on 127.0.0.1, one tool
   `whoami`). It publishes RFC 9728 protected-resource metadata naming our issuer, answers 401 to
   requests without a token, and validates tokens by calling our /introspect (RFC 7662) as a
   confidential client that the authorization server allows to introspect.
2. Connects with the SDK's OAuthClientProvider: 401 → protected-resource metadata → our RFC 8414
   metadata → dynamic registration → authorization URL (PKCE, state, resource) → our
   redirect_handler signs in and allows (cookie jar, generic form filling) → callback_handler hands
   back code, state, iss (the SDK checks state and iss) → token exchange.
3. Lists the tools and calls `whoami`: succeeds only when the token introspected active with a
   subject.

    python py_sdk_flow.py --issuer ISSUER
env: E2E_USERNAME, E2E_PASSWORD (the user), E2E_RS_CLIENT_ID, E2E_RS_CLIENT_SECRET (the introspection
client), E2E_SCOPES (optional, space separated: the MCP server's required scopes), E2E_TIMEOUT_S
(default 60). Exit 0 on success, 1 with the reason on failure, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2  # the HTTP client of mcp 2.x (not `httpx`)
import jwt  # PyJWT, a dependency of mcp: the local validation docs/resource-servers.md shows
import uvicorn
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REQUEST_TIMEOUT = httpx2.Timeout(10.0)
VERIFIERS: list = []  # the resource server's verifier, to explain a failure by its /introspect answers
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def log(step: str, **data) -> None:
    print(json.dumps({"step": step, **data}), flush=True)


def redact(t: str | None) -> str | None:
    return f"{t[:6]}…({len(t)})" if isinstance(t, str) else t


def assert_loopback(url: str, what: str) -> None:
    if urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise RuntimeError(f"{what} {url} is not on a loopback address; the e2e tests only talk to 127.0.0.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

# ------------------------------------------------------------------ the resource server


class IntrospectionVerifier(TokenVerifier):
    """Validates bearer tokens with the authorization server's /introspect (client_secret_basic)."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, resource: str,
                 issuer: str, jwks_uri: str):
        self.endpoint, self.auth, self.resource = endpoint, (client_id, client_secret), resource
        self.issuer, self.jwks = issuer, jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=300)
        self.calls: list[dict] = []

    async def verify_token(self, token: str) -> AccessToken | None:
        async with httpx2.AsyncClient(timeout=REQUEST_TIMEOUT) as c:
            r = await c.post(self.endpoint, data={"token": token, "token_type_hint": "access_token"}, auth=self.auth)
        self.calls.append({"status": r.status_code, "active": r.status_code == 200 and r.json().get("active")})
        if r.status_code != 200:
            # 401 here means the introspection client is unknown, has the wrong secret, or is not
            # allowed to introspect: a fixture problem, reported at the end.
            print(f"[rs] /introspect answered HTTP {r.status_code}: {r.text[:300]}", file=sys.stderr, flush=True)
            return None
        d = r.json()
        if d.get("active") is not True:
            return None
        # The same token must also pass local validation, exactly as docs/resource-servers.md
        # shows it (PyJWT with the JWK Set), for this resource server's own audience.
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "at+jwt":
                raise jwt.InvalidTokenError(f"typ {header.get('typ')!r} is not at+jwt")
            key = self.jwks.get_signing_key_from_jwt(token)
            jwt.decode(token, key.key, algorithms=["ES256", "EdDSA", "RS256"], issuer=self.issuer,
                       audience=self.resource, leeway=60,
                       options={"require": ["exp", "iss", "aud", "sub"]})
            self.calls[-1]["jwt"] = "valid"
        except jwt.PyJWTError as e:
            print(f"[rs] local JWT validation failed: {e}", file=sys.stderr, flush=True)
            self.calls[-1]["jwt"] = f"invalid: {e}"
            return None
        aud = d.get("aud")
        auds = aud if isinstance(aud, list) else [aud] if aud else []
        return AccessToken(token=token, client_id=d.get("client_id", ""), scopes=(d.get("scope") or "").split(),
                           expires_at=d.get("exp"), subject=d.get("sub"),
                           resource=self.resource if self.resource in auds else (auds[0] if auds else None),
                           claims=d)


def build_resource_server(issuer: str, verifier: IntrospectionVerifier, mcp_url: str, scopes: list[str] | None) -> MCPServer:
    mcp = MCPServer(
        "e2e-resource-server",
        token_verifier=verifier,
        # Access tokens carry the resource the client asked for in `aud` (RFC 8707, contract §6).
        auth=AuthSettings(issuer_url=issuer, resource_server_url=mcp_url, required_scopes=scopes,
                          validate_token_resource=True),
    )

    @mcp.tool()
    def whoami() -> str:
        """The authenticated subject, client and scopes."""
        t = get_access_token()
        return json.dumps({"sub": t.subject if t else None, "client_id": t.client_id if t else None,
                           "scopes": t.scopes if t else None})

    return mcp


def serve_in_thread(app, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the MCP resource server did not start on 127.0.0.1:{port} within 10 s")
        time.sleep(0.05)
    return server

# ------------------------------------------------------------------ the user (sign-in + consent)
# The same rules as lib/forms.mjs: one <form> per page; hidden inputs copied; `username` (or
# type=email / autocomplete=username) and type=password filled; on other pages the first form whose
# submit control says Allow is submitted with that control's name=value.

ALLOW = re.compile(r"\b(allow|approve|accept|authori[sz]e|consent|grant|yes)\b", re.I)


def _attrs(tag: str) -> dict[str, str]:
    return {m[0].lower(): html.unescape(m[1] or m[2] or m[3] or "")
            for m in re.findall(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""", tag)}


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", fragment))).strip()


def _forms(page: str) -> list[tuple[dict, list[dict], list[dict]]]:
    forms = []
    for m in re.finditer(r"<form\b([^>]*)>(.*?)</form\s*>", page, re.S | re.I):
        inputs = [_attrs(i) for i in re.findall(r"<input\b([^>]*)>", m.group(2), re.I)]
        submits = [dict(_attrs(a), text=_text(t)) for a, t in re.findall(r"<button\b([^>]*)>(.*?)</button\s*>", m.group(2), re.S | re.I)]
        submits = [s for s in submits if s.get("type", "submit").lower() == "submit"]
        submits += [dict(i, text=i.get("value", "")) for i in inputs if i.get("type", "").lower() in ("submit", "image")]
        forms.append((_attrs(m.group(1)), inputs, submits))
    return forms


def _describe(page: str) -> str:
    title = re.search(r"<title[^>]*>(.*?)</title>", page, re.S | re.I)
    body = _text(re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S | re.I))[:300]
    return f'"{_text(title.group(1))}": {body}' if title else body


async def drive_authorization(url: str, redirect_uri: str, user: str, password: str, max_steps: int = 20) -> tuple[str, list[str]]:
    """Follows the authorization URL like a browser without JavaScript; returns the redirect to redirect_uri."""
    target = urlsplit(redirect_uri)
    trail: list[str] = []
    signed_in = False
    async with httpx2.AsyncClient(follow_redirects=False, timeout=REQUEST_TIMEOUT) as ua:  # ua.cookies: the jar
        method, data = "GET", None
        for _ in range(max_steps):
            assert_loopback(url, "request")
            headers = {"Accept": "text/html"}
            if data is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            r = await ua.request(method, url, content=data, headers=headers)
            trail.append(f"{method} {urlsplit(url).path} {r.status_code}")
            if r.is_redirect:
                loc = urljoin(url, r.headers["location"])
                s = urlsplit(loc)
                if (s.scheme, s.netloc, s.path) == (target.scheme, target.netloc, target.path):
                    return loc, trail
                method, data, url = "GET", None, loc
                continue
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code} at {method} {url} (trail: {', '.join(trail)}): {_describe(r.text)}")
            forms = _forms(r.text)
            sign_in = next((f for f in forms if any(i.get("type", "").lower() == "password" for i in f[1])), None)
            if sign_in:
                if signed_in:
                    raise RuntimeError(f"the sign-in form came back after the credentials were sent (wrong password?) "
                                       f"(trail: {', '.join(trail)}): {_describe(r.text)}")
                signed_in = True
                form, submit = sign_in, next((s for s in sign_in[2] if s.get("name")), None)
            else:
                form, submit = next(((f, s) for f in forms for s in f[2] if ALLOW.search(s.get("value", "")) or ALLOW.search(s["text"])),
                                    (None, None))
                if form is None:
                    raise RuntimeError(f"no sign-in form and no form with an Allow button at {url} "
                                       f"(trail: {', '.join(trail)}): {_describe(r.text)}")
            fattrs, inputs, _ = form
            fields: list[tuple[str, str]] = []
            for i in inputs:
                n, t = i.get("name"), i.get("type", "text").lower()
                if not n or t in ("submit", "button", "image", "reset", "file"):
                    continue
                if n == "username" or t == "email" or i.get("autocomplete") == "username":
                    fields.append((n, user))
                elif t == "password":
                    fields.append((n, password))
                elif t in ("checkbox", "radio") and "checked" not in i:
                    continue
                else:
                    fields.append((n, i.get("value", "")))
            if submit and submit.get("name"):
                fields.append((submit["name"], submit.get("value", "")))
            url = urljoin(url, (submit or {}).get("formaction") or fattrs.get("action") or url)
            method = ((submit or {}).get("formmethod") or fattrs.get("method") or "get").upper()
            if method == "POST":
                data = urlencode(fields)  # a list keeps repeated names and the order of the form
            else:
                url, data = url.split("?")[0] + "?" + urlencode(fields), None
    raise RuntimeError(f"no redirect to {redirect_uri} after {max_steps} requests (trail: {', '.join(trail)})")

# ------------------------------------------------------------------ the MCP client


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self): return self.tokens
    async def set_tokens(self, tokens): self.tokens = tokens
    async def get_client_info(self): return self.client
    async def set_client_info(self, client_info): self.client = client_info


async def run(a: argparse.Namespace) -> dict:
    assert_loopback(a.issuer, "issuer")
    async with httpx2.AsyncClient(timeout=REQUEST_TIMEOUT) as c:
        md_url = f"{a.issuer.rstrip('/')}/.well-known/oauth-authorization-server"
        r = await c.get(md_url)
        if r.status_code != 200:
            raise RuntimeError(f"GET {md_url} answered {r.status_code}")
        md = r.json()
    introspection_endpoint = a.introspection_endpoint or md.get("introspection_endpoint")
    if not introspection_endpoint:
        raise RuntimeError("the metadata has no introspection_endpoint and --introspection-endpoint was not given")
    assert_loopback(introspection_endpoint, "introspection endpoint")

    port = a.mcp_port or free_port()
    mcp_url = f"http://127.0.0.1:{port}/mcp"
    assert_loopback(md["jwks_uri"], "jwks_uri")
    verifier = IntrospectionVerifier(introspection_endpoint, a.rs_client_id, a.rs_client_secret, mcp_url,
                                     md["issuer"], md["jwks_uri"])
    VERIFIERS.append(verifier)
    server = serve_in_thread(build_resource_server(a.issuer, verifier, mcp_url, a.scopes.split() or None).streamable_http_app(), port)
    log("resource_server", url=mcp_url, introspection_endpoint=introspection_endpoint)

    captured: dict = {}

    async def redirect_handler(authorization_url: str) -> None:
        log("redirect_handler", authorization_url=authorization_url)
        captured["callback"], captured["trail"] = await drive_authorization(authorization_url, a.redirect_uri, a.username, a.password)

    async def callback_handler() -> AuthorizationCodeResult:
        q = parse_qs(urlsplit(captured["callback"]).query)
        if "error" in q:
            raise RuntimeError(f"the authorization server answered error={q['error'][0]} {q.get('error_description', [''])[0]}")
        log("callback", trail=captured["trail"], params=sorted(q), iss=q.get("iss", [None])[0])
        # The SDK compares state (constant time) and iss with the metadata's issuer (RFC 9207).
        return AuthorizationCodeResult(code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0])

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(client_name="e2e: MCP Python SDK", redirect_uris=[a.redirect_uri],
                                            grant_types=["authorization_code", "refresh_token"],
                                            response_types=["code"], token_endpoint_auth_method="none"),
        storage=storage, redirect_handler=redirect_handler, callback_handler=callback_handler)
    try:
        async with httpx2.AsyncClient(auth=provider, timeout=REQUEST_TIMEOUT) as http:
            async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
                tools = await client.list_tools()
                res = await client.call_tool("whoami", {})
    finally:
        server.should_exit = True

    text = res.content[0].text if res.content else ""
    out = json.loads(text) if text.startswith("{") else {"raw": text}
    log("call_tool", tool="whoami", is_error=res.is_error, tools=[t.name for t in tools.tools], result=out)
    if "callback" not in captured:
        raise RuntimeError("the SDK never asked the user to authorize (no redirect_handler call)")
    if res.is_error or not out.get("sub"):
        raise RuntimeError(f"the tool call did not succeed with an authenticated subject: {out}")
    if not any(c["active"] for c in verifier.calls):
        raise RuntimeError(f"/introspect never reported the token active: {verifier.calls}")
    if not any(c.get("jwt") == "valid" for c in verifier.calls):
        raise RuntimeError(f"the access token never passed local JWT validation: {verifier.calls}")
    if a.expect_sub and out["sub"] != a.expect_sub:
        raise RuntimeError(f"sub {out['sub']!r} differs from the expected {a.expect_sub!r}")
    return {"ok": True, "sub": out["sub"], "scopes": out.get("scopes"), "client_id": storage.client.client_id if storage.client else None,
            "access_token": redact(storage.tokens.access_token if storage.tokens else None),
            "introspections": len(verifier.calls)}


def main() -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuer", required=True, help="exactly as in the server's metadata")
    ap.add_argument("--rs-client-id", default=env("E2E_RS_CLIENT_ID"))
    ap.add_argument("--rs-client-secret", default=env("E2E_RS_CLIENT_SECRET"))
    ap.add_argument("--introspection-endpoint", help="default: the metadata's introspection_endpoint")
    ap.add_argument("--username", default=env("E2E_USERNAME"))
    ap.add_argument("--password", default=env("E2E_PASSWORD"))
    ap.add_argument("--expect-sub", default=env("E2E_EXPECT_SUB"), help="the sub the tool must see (optional)")
    ap.add_argument("--mcp-port", type=int, default=0, help="the MCP server's port (default: a free one)")
    ap.add_argument("--scopes", default=env("E2E_SCOPES", ""), help="space separated scopes the MCP server requires")
    ap.add_argument("--redirect-uri", default="http://127.0.0.1:53683/callback")
    ap.add_argument("--timeout", type=float, default=float(env("E2E_TIMEOUT_S", "60")))
    a = ap.parse_args()
    missing = [n for n in ("rs_client_id", "rs_client_secret", "username", "password") if not getattr(a, n)]
    if missing:
        ap.error("missing " + ", ".join("--" + m.replace("_", "-") for m in missing)
                 + " (or E2E_RS_CLIENT_ID, E2E_RS_CLIENT_SECRET, E2E_USERNAME, E2E_PASSWORD)")
    try:
        summary = asyncio.run(asyncio.wait_for(run(a), a.timeout))
    except TimeoutError:
        log("summary", ok=False, error=f"not finished within {a.timeout} s")
        print(f"FAILED: py_sdk_flow: not finished within {a.timeout} s", file=sys.stderr)
        return 1
    except BaseException as e:  # noqa: BLE001 - report anything, including ExceptionGroups from anyio
        msg = _flatten(e)
        refused = [c["status"] for v in VERIFIERS for c in v.calls if c["status"] != 200]
        if refused:
            msg += (f" (the resource server's /introspect calls were refused with HTTP {refused}: is the introspection "
                    f"client {a.rs_client_id!r} known, its secret right, and is it allowed to introspect?)")
        log("summary", ok=False, error=msg)
        print(f"FAILED: py_sdk_flow: {msg}", file=sys.stderr)
        return 1
    log("summary", **summary)
    return 0


def _flatten(e: BaseException) -> str:
    """anyio task groups wrap the real error in ExceptionGroups: show the leaves."""
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(_flatten(x) for x in e.exceptions)
    return f"{type(e).__name__}: {e}"


if __name__ == "__main__":
    sys.exit(main())
