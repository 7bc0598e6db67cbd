#!/usr/bin/env python3
"""Bounded load for scripts/outage-test.sh: CONCURRENCY threads POST /register for DURATION
seconds and write one JSON line per request (start offset, seconds taken, status, Retry-After,
error code, client_id of a 201). A request is given up client-side after GIVE_UP seconds (status
0): that is what the outage test counts as "not answered within the bound".

Usage: outage_load.py BASE_URL DURATION CONCURRENCY GIVE_UP OUT_FILE
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

base, duration, concurrency, give_up, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
body = json.dumps({
    "client_name": "outage test",
    "redirect_uris": ["http://127.0.0.1:53682/callback"],
    "token_endpoint_auth_method": "none",
}).encode()
t0 = time.monotonic()
lock = threading.Lock()
records = []


def worker():
    while time.monotonic() - t0 < duration:
        start = time.monotonic()
        rec = {"at": round(start - t0, 3)}
        req = urllib.request.Request(base + "/register", data=body, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=give_up) as res:
                rec["status"] = res.status
                rec["client_id"] = json.loads(res.read())["client_id"]
        except urllib.error.HTTPError as e:
            rec["status"] = e.code
            rec["retry_after"] = e.headers.get("retry-after")
            try:
                rec["error"] = json.loads(e.read()).get("error")
            except ValueError:
                rec["error"] = "not JSON"
        except Exception as e:  # timeout or connection failure: no answer within the bound
            rec["status"] = 0
            rec["error"] = type(e).__name__
        rec["secs"] = round(time.monotonic() - start, 3)
        with lock:
            records.append(rec)


threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out, "w") as f:
    for r in records:
        f.write(json.dumps(r) + "\n")
