#!/usr/bin/env python3
"""Slow clients against a running server, and whether a normal client is still served.

SLOW connections each send a POST /register head announcing a 1000-byte body and then send
nothing (or, with --trickle, one byte per second). With --reconnect a connection the server closes
is opened again at once, so the attacker keeps SLOW connections pending for the whole run; without
it each slow client connects once. Meanwhile a probe sends
GET /health every PROBE_INTERVAL seconds on a fresh connection and waits up to PROBE_TIMEOUT.

Prints one line of figures: slow connections opened, 408 answers they got, probes served and
their latency. Bounded: it stops after DURATION seconds. Traffic goes to the URL given (loopback).
Usage: slow_clients.py BASE_URL [--slow 300] [--duration 40] [--trickle] [--reconnect] [--verbose]
"""

import argparse
import asyncio
import statistics
import time
import urllib.parse


async def slow_client(host, port, stop_at, trickle, reconnect, stats):
    head = (
        "POST /register HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).format(host, port).encode()
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, asyncio.TimeoutError):
            stats["connect_failures"] += 1
            await asyncio.sleep(0.2)
            continue
        stats["opened"] += 1
        try:
            writer.write(head)
            await writer.drain()
            while time.monotonic() < stop_at:
                if trickle:
                    writer.write(b" ")
                    await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                except asyncio.TimeoutError:
                    continue
                if data.startswith(b"HTTP/1.1 408"):
                    stats["answered_408"] += 1
                if not data:
                    stats["closed_by_server"] += 1
                    break
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            writer.close()
        if not reconnect:
            # Stay until the end of the run, as a client that keeps its place would.
            await asyncio.sleep(max(0, stop_at - time.monotonic()))


async def probe(host, port, timeout):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write("GET /health HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n".format(host, port).encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout - (time.monotonic() - started))
        writer.close()
        return line.startswith(b"HTTP/1.1 200"), time.monotonic() - started
    except (OSError, asyncio.TimeoutError):
        return False, time.monotonic() - started


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--duration", type=float, default=40)
    parser.add_argument("--probe-interval", type=float, default=1.0)
    parser.add_argument("--probe-timeout", type=float, default=20.0)
    parser.add_argument("--trickle", action="store_true")
    parser.add_argument("--reconnect", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print each probe")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.base)
    host, port = url.hostname, url.port
    assert host in ("127.0.0.1", "localhost", "::1"), "loopback only"
    stop_at = time.monotonic() + args.duration
    stats = {"opened": 0, "answered_408": 0, "closed_by_server": 0, "connect_failures": 0}
    attackers = [
        asyncio.create_task(slow_client(host, port, stop_at, args.trickle, args.reconnect, stats))
        for _ in range(args.slow)
    ]
    await asyncio.sleep(2)  # let the slow connections take their places first
    probes = []
    while time.monotonic() < stop_at - 1:
        # A probe counts only if served while the slow clients are still there.
        timeout = min(args.probe_timeout, stop_at - time.monotonic())
        probes.append(asyncio.create_task(probe(host, port, timeout)))
        await asyncio.sleep(args.probe_interval)
    results = await asyncio.gather(*probes)
    if args.verbose:
        for i, (ok, t) in enumerate(results):
            print("probe {:2d} sent at {:5.1f}s: {} after {:.2f}s".format(
                i, 2 + i * args.probe_interval, "served" if ok else "NOT served", t))
    await asyncio.gather(*attackers)
    served = [t for ok, t in results if ok]
    latency = (
        "p50 {:.2f}s max {:.2f}s".format(statistics.median(served), max(served)) if served else "-"
    )
    print(
        "slow={} opened={} answered_408={} closed_by_server={} connect_failures={} "
        "probes_served={}/{} latency {}".format(
            args.slow, stats["opened"], stats["answered_408"], stats["closed_by_server"],
            stats["connect_failures"], len(served), len(results), latency,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
