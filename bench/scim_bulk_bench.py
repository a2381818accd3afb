"""SCIM initial-sync benchmark: users created per second by /Bulk against POST /Users.

    .venv/bin/python bench/scim_bulk_bench.py --repeat 3

It drops and re-creates the PostgreSQL database `axero_bulk_bench` (and only that one),
seeds it (bench/scim_setup.py: users with COPY, two groups, a SCIM token), starts
`gunicorn axero_idp.wsgi --workers 2` from the repo root (gunicorn.conf.py applies),
DEBUG off, REDIS_URL set, on 127.0.0.1, and in each round measures, against the same
server, four client threads each sending single `POST /Users`, then four client threads
each sending `POST /Bulk` requests of 1,000 `POST /Users` operations. It stops gunicorn
and prints a Markdown section for BENCHMARKS.md with the median of the rounds. Every
loop is bounded and every request goes to 127.0.0.1.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/axero_bulk_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/12), BENCH_PORT (default 8767).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Its own database and port, so it never disturbs a scim_bench.py run beside it.
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_bulk_bench")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("BENCH_PORT", "8767")

from scim_bench import USER_SCHEMA, Client, measure_post_users
from scim_setup import (
    DATABASE_URL,
    ROOT,
    machine,
    recreate_database,
    seed,
    server_settings,
    setup_django,
    start_server,
)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def _user(name: str, n: int) -> dict[str, Any]:
    """The same body measure_post_users sends for one user."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"{name}@example.com",
        "name": {"givenName": "New", "familyName": f"User{n}"},
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "externalId": name,
        "active": True,
    }


def _bulk_body(prefix: str, size: int) -> dict[str, Any]:
    return {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{n}",
                "data": _user(f"{prefix}-{n}", n),
            }
            for n in range(size)
        ],
    }


def measure_bulk(token: str, per_thread: int, size: int, threads: int = 4) -> dict[str, float]:
    """Users per second created by `threads` clients each sending `per_thread` Bulks."""
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    run = secrets.token_hex(3)
    # Bodies are built before the clock starts: the client's JSON is not the server's time.
    bodies = [
        [_bulk_body(f"bulk-{run}-{index}-{k}", size) for k in range(per_thread)]
        for index in range(threads)
    ]

    def worker(index: int) -> None:
        client = Client(token)
        mine = []
        for body in bodies[index]:
            status, ms, data = client.call("POST", "/scim/v2/Bulk", body)
            statuses = [op.get("status") for op in json.loads(data).get("Operations", [])]
            if status != 200 or statuses != ["201"] * size:
                errors.append(f"{status} {data[:300]!r}")
            mine.append(ms)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"POST /Bulk failed {len(errors)} times, first: {errors[0]}")
    users = per_thread * threads * size
    return {
        "requests": per_thread * threads,
        "users": users,
        "seconds": elapsed,
        "users_per_s": users / elapsed,
        "p50": statistics.median(latencies),
    }


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    single, bulk, host = results["single"], results["bulk"], results["machine"]
    ratio = bulk["users_per_s"] / single["rps"]
    rounds = results["rounds"]

    def spread(part: str, key: str) -> str:
        values = [measured[part][key] for measured in rounds]
        return f"rounds {min(values):.0f}-{max(values):.0f}" if len(values) > 1 else "one round"

    ratios = [m["bulk"]["users_per_s"] / m["single"]["rps"] for m in rounds]
    command = " ".join([".venv/bin/python bench/scim_bulk_bench.py", shlex.join(sys.argv[1:])])
    lines = [
        f"Command: `{command.strip()}` (run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"median of {len(rounds)} rounds against one server)",
        "",
        f"Machine: {host['nproc']} CPUs, {host['memory']} RAM, CPU {host['cpu']}, Python "
        f"{host['python']}, PostgreSQL and Redis on the same host; load average 1/5/15 min "
        f"at the start {host['load']}, at the end {results['load_end']}. Server: gunicorn "
        f"--workers 2 ({results['server']}), DEBUG off, REDIS_URL set; {args.users:,} users "
        "seeded. Client: four threads, one keep-alive connection each, client-side timing.",
        "",
        "| measurement | result | target | |",
        "| --- | --- | --- | --- |",
        f"| single POST /Users, concurrency 4 ({single['requests']:.0f} per round) | "
        f"{single['rps']:.0f} users/s (p50 {single['p50']:.1f} ms; {spread('single', 'rps')}) "
        "| | |",
        f"| POST /Bulk of {args.size:,} creates, concurrency 4 ({bulk['requests']:.0f} per round,"
        f" {bulk['users']:,.0f} users) | {bulk['users_per_s']:.0f} users/s (p50 "
        f"{bulk['p50']:.0f} ms per request; {spread('bulk', 'users_per_s')}) | >= 2,000 users/s | "
        f"{'met' if bulk['users_per_s'] >= 2000 else 'MISSED'} |",
        f"| Bulk / single | {ratio:.1f}x (rounds {min(ratios):.1f}-{max(ratios):.1f}x) | >= 5x | "
        f"{'met' if ratio >= 5 else 'MISSED'} |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60_500, help="seeded users")
    parser.add_argument("--posts-per-thread", type=int, default=250)
    parser.add_argument("--bulks-per-thread", type=int, default=2)
    parser.add_argument("--size", type=int, default=1000, help="operations per Bulk request")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--gunicorn-args", default="")
    args = parser.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    print(f"seeding {args.users:,} users into {DATABASE_URL} ...", file=sys.stderr)
    recreate_database()
    setup_django()
    seeded = seed(args.users)
    token = str(seeded["token"])
    extra = shlex.split(args.gunicorn_args)
    results: dict[str, Any] = {"machine": machine(), "server": server_settings(extra)}
    server = start_server(extra)
    rounds: list[dict[str, Any]] = []
    try:
        for index in range(args.repeat):
            print(f"round {index + 1}/{args.repeat}: single POSTs ...", file=sys.stderr)
            measured = {"single": measure_post_users(token, args.posts_per_thread)}
            print("Bulk ...", file=sys.stderr)
            measured["bulk"] = measure_bulk(token, args.bulks_per_thread, args.size)
            print(json.dumps(measured), file=sys.stderr)
            rounds.append(measured)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["rounds"] = rounds
    for part in rounds[0]:
        results[part] = {
            key: statistics.median(m[part][key] for m in rounds) for key in rounds[0][part]
        }
    results["load_end"] = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(report(results, args))


if __name__ == "__main__":
    main()
