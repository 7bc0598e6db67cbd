#!/usr/bin/env python3
"""A real headless browser (Debian's chromium + chromedriver, driven by selenium from
requirements.txt) signs in, consents and lands on the client's callback.

Why a browser besides the cookie-jar drivers: browsers enforce what plain HTTP clients ignore,
above all the Content-Security-Policy `form-action` directive, which Chromium also applies to the
redirect that follows the consent form's POST. A policy of `form-action 'self'` on the consent
page blocks the redirect to the client, and only this test sees it (contract §3).

Steps: discovery → registers a public client (loopback redirect) → builds an authorization URL with
PKCE S256 and a state (or takes --authorization-url) → opens it → fills username and password →
screenshot of the sign-in page → submits → screenshot of the consent page → clicks the submit
control that says Allow → waits until the browser's URL is the callback with code, our state and
iss = issuer → (when it built the URL itself) exchanges the code at the token endpoint.
Nothing needs to listen on the callback: Chromium shows its "connection refused" page, and the
URL is what is checked.

    python browser.py --issuer ISSUER [--out DIR] [--authorization-url URL --redirect-uri URI --state S]
env: E2E_USERNAME, E2E_PASSWORD (required), E2E_CHROMIUM (/usr/bin/chromium), E2E_CHROMEDRIVER
(/usr/bin/chromedriver), E2E_TIMEOUT_S (per wait, default 15). Exit 0 on success, 1 with the reason.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ALLOW = re.compile(r"\b(allow|approve|accept|authori[sz]e|consent|grant|yes)\b", re.I)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Failure(Exception):
    pass


def log(step: str, **data) -> None:
    print(json.dumps({"step": step, **data}), flush=True)


def http_json(url: str, data: dict | None = None, form: dict | None = None) -> tuple[int, dict]:
    """A bounded JSON request to a loopback URL (stdlib only)."""
    if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise Failure(f"{url} is not on a loopback address; the e2e tests only talk to 127.0.0.1")
    body, headers = None, {"Accept": "application/json"}
    if data is not None:
        body, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
    elif form is not None:
        body, headers["Content-Type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def prepare(issuer: str, redirect_uri: str) -> dict:
    """Registers a public client and builds an authorization URL with PKCE S256 and a state."""
    s = urllib.parse.urlsplit(issuer)  # RFC 8414 §3.1: the well-known segment goes before the issuer's path
    status, md = http_json(f"{s.scheme}://{s.netloc}/.well-known/oauth-authorization-server{s.path.rstrip('/')}")
    if status != 200 or md.get("issuer") != issuer:
        raise Failure(f"metadata: HTTP {status}, issuer {md.get('issuer')!r} (expected {issuer!r})")
    status, client = http_json(md["registration_endpoint"], data={
        "client_name": "e2e: headless browser", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]})
    if status not in (200, 201):
        raise Failure(f"registration answered HTTP {status}: {client}")
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    url = md["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": redirect_uri, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    log("prepare", client_id=client["client_id"], authorization_url=url)
    return {"metadata": md, "client_id": client["client_id"], "verifier": verifier, "state": state, "url": url}


def start_browser() -> webdriver.Chrome:
    chromium = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("E2E_CHROMEDRIVER", "/usr/bin/chromedriver")
    for f in (chromium, chromedriver):
        if not os.access(f, os.X_OK):
            raise Failure(f"{f} is missing: apt-get install chromium chromium-driver (scripts/e2e.sh does it)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium  # with an explicit binary and driver, Selenium Manager downloads nothing
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,800",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions"):
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


def screenshot(driver, path: Path) -> int:
    driver.save_screenshot(str(path))
    data = path.read_bytes() if path.exists() else b""
    if len(data) < 1000 or not data.startswith(PNG_MAGIC):
        raise Failure(f"screenshot {path} is not a PNG with content ({len(data)} bytes)")
    return len(data)


def page_summary(driver) -> str:
    try:
        text = driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        text = ""
    return f"at {driver.current_url} {driver.title!r}: {' '.join(text.split())[:300]}"


def check_docs(driver, issuer: str, png: Path) -> int:
    """The guides are HTML a browser renders under the pages' strict CSP: from the landing page, the
    MCP guide opens with its stylesheet applied and its screenshots loaded."""
    driver.get(issuer.rstrip("/") + "/")
    links = [e.get_attribute("href") for e in driver.find_elements(By.CSS_SELECTOR, "a[href]")]
    mcp = next((h for h in links if h and h.endswith("/docs/mcp")), None)
    if not mcp:
        raise Failure(f"the landing page links no /docs/mcp {page_summary(driver)}")
    driver.get(mcp)
    if not driver.find_elements(By.CSS_SELECTOR, "article.doc h1"):
        raise Failure(f"/docs/mcp has no rendered heading {page_summary(driver)}")
    images = driver.execute_script(
        "return [...document.images].map(i => [i.getAttribute('src'), i.complete ? i.naturalWidth : 0])")
    if not images or any(width == 0 for _, width in images):
        raise Failure(f"/docs/mcp images did not load: {images}")
    width = driver.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth")
    if width in ("none", ""):
        raise Failure("the stylesheet is not applied to /docs/mcp (blocked by the CSP, or not found)")
    log("docs", images=[src for src, _ in images], main_max_width=width)
    return screenshot(driver, png)


def run(a: argparse.Namespace) -> dict:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    prepared = None
    if a.authorization_url:
        url, state, redirect_uri = a.authorization_url, a.state, a.redirect_uri
    else:
        prepared = prepare(a.issuer, a.redirect_uri)
        url, state, redirect_uri = prepared["url"], prepared["state"], a.redirect_uri
    target = urllib.parse.urlsplit(redirect_uri)

    def at_callback(d) -> bool:
        s = urllib.parse.urlsplit(d.current_url)
        return (s.scheme, s.netloc, s.path) == (target.scheme, target.netloc, target.path)

    driver = start_browser()
    try:
        wait = WebDriverWait(driver, a.timeout)
        driver.get(url)
        try:
            user = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=username], input[type=email], input[autocomplete=username]"))[0]
        except TimeoutException:
            raise Failure(f"no sign-in form within {a.timeout} s {page_summary(driver)}") from None
        user.send_keys(a.username)
        password = driver.find_element(By.CSS_SELECTOR, "input[type=password]")
        password.send_keys(a.password)
        signin_png = out / "1-sign-in.png"
        sizes = {"sign-in": screenshot(driver, signin_png)}
        form = password.find_element(By.XPATH, "./ancestor::form")
        submits = form.find_elements(By.CSS_SELECTOR, "button:not([type]), button[type=submit], input[type=submit]")
        if submits:
            submits[0].click()
        else:
            password.submit()

        # The consent page: the first submit control that says Allow (by its text or value).
        def allow_button(d):
            if d.find_elements(By.CSS_SELECTOR, "input[type=password]"):
                return None
            for b in d.find_elements(By.CSS_SELECTOR, "form button:not([type]), form button[type=submit], form input[type=submit]"):
                if ALLOW.search(b.text or "") or ALLOW.search(b.get_attribute("value") or ""):
                    return b
            return None
        try:
            allow = wait.until(lambda d: at_callback(d) or allow_button(d))
        except TimeoutException:
            raise Failure(f"no consent page with an Allow button within {a.timeout} s after signing in "
                          f"(wrong password? the sign-in form is shown again) {page_summary(driver)}") from None
        if allow is True:
            raise Failure("the browser went to the callback without a consent page (consent is asked every time for loopback redirects)")
        consent_png = out / "2-consent.png"
        sizes["consent"] = screenshot(driver, consent_png)
        allow.click()
        try:
            wait.until(at_callback)
        except TimeoutException:
            raise Failure(f"the browser did not reach {redirect_uri} within {a.timeout} s after Allow; a CSP form-action "
                          f"that does not allow the redirect URI's origin blocks exactly this {page_summary(driver)}") from None
        callback = driver.current_url
        docs_png = out / "3-docs.png"
        sizes["docs"] = check_docs(driver, a.issuer, docs_png)
    finally:
        driver.quit()

    q = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
    if "error" in q:
        raise Failure(f"the callback carries error={q['error']} {q.get('error_description')}")
    if len(q.get("code", [])) != 1:
        raise Failure(f"the callback must carry exactly one code: {callback}")
    if state is not None and q.get("state") != [state]:
        raise Failure(f"the callback's state {q.get('state')} differs from the one sent")
    if q.get("iss") != [a.issuer]:
        raise Failure(f"the callback's iss {q.get('iss')} must be exactly {a.issuer!r}")
    log("callback", params=sorted(q), screenshots={"sign-in": str(signin_png), "consent": str(consent_png)}, png_bytes=sizes)

    summary = {"ok": True, "screenshots": [str(signin_png), str(consent_png), str(docs_png)]}
    if prepared:
        # The code obtained by the browser is a real one: exchange it.
        status, tokens = http_json(prepared["metadata"]["token_endpoint"], form={
            "grant_type": "authorization_code", "code": q["code"][0], "redirect_uri": redirect_uri,
            "code_verifier": prepared["verifier"], "client_id": prepared["client_id"]})
        if status != 200 or not tokens.get("access_token"):
            raise Failure(f"the token endpoint refused the browser's code: HTTP {status} {tokens}")
        summary["token_exchange"] = "ok"
    return summary


def main() -> int:
    # Stopped from outside (scripts/e2e.sh's timeout): unwind, so `finally: driver.quit()` ends Chromium.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAILED: browser: stopped by SIGTERM"))
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--issuer", required=True, help="exactly as in the server's metadata")
    ap.add_argument("--out", default=str(Path(__file__).parent / "output" / "browser"), help="folder for the screenshots")
    ap.add_argument("--authorization-url", help="open this URL instead of registering a client and building one")
    ap.add_argument("--redirect-uri", default="http://127.0.0.1:53684/callback")
    ap.add_argument("--state", help="with --authorization-url: the state it carries")
    ap.add_argument("--username", default=env("E2E_USERNAME"))
    ap.add_argument("--password", default=env("E2E_PASSWORD"))
    ap.add_argument("--timeout", type=float, default=float(env("E2E_TIMEOUT_S", "15")), help="seconds per wait")
    a = ap.parse_args()
    if not a.username or not a.password:
        ap.error("E2E_USERNAME and E2E_PASSWORD (or --username, --password) are needed")
    try:
        summary = run(a)
    except (Failure, WebDriverException, OSError, KeyError, ValueError) as e:
        msg = getattr(e, "msg", None) or str(e)
        log("summary", ok=False, error=msg)
        print(f"FAILED: browser: {msg}", file=sys.stderr)
        return 1
    log("summary", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
