"""SCIM benchmark: the server as in production, on 100,000 users. Run by hand.

    .venv/bin/python bench/scim_bench.py            # seeds axero_bench, serves, measures

It drops and re-creates the PostgreSQL database `axero_bench` (and only that one),
seeds 100,000 users with COPY, a 100-member and a 50,000-member group and a SCIM token,
starts `gunicorn axero_idp.wsgi --workers 2` from the repo root (so gunicorn.conf.py
applies), DEBUG off, REDIS_URL set, on 127.0.0.1, measures, stops
gunicorn and prints a Markdown section for BENCHMARKS.md. Every loop is bounded and
every request goes to 127.0.0.1.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/axero_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/13), BENCH_PORT (default 8765).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
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
from urllib.parse import quote

from scim_setup import (
    DATABASE_URL,
    HOST,
    PORT,
    ROOT,
    machine,
    recreate_database,
    seed,
    server_settings,
    setup_django,
    start_server,
)

SCIM_JSON = "application/scim+json"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


class Client:
    """One keep-alive connection with the bearer token."""

    def __init__(self, token: str) -> None:
        self.connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, float, bytes]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = SCIM_JSON
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection before this request
                # reached it: reconnect once, and time only the attempt that ran.
                self.connection.close()
                if attempt == 2:
                    raise
                continue
            data = response.read()
            return response.status, (time.perf_counter() - started) * 1000, data
        raise AssertionError("unreachable")


def _expect(status: int, wanted: tuple[int, ...], what: str, data: bytes) -> None:
    if status not in wanted:
        raise SystemExit(f"{what}: HTTP {status}: {data[:300]!r}")


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


# ---- measurements --------------------------------------------------------------------


def measure_post_users(token: str, per_thread: int, threads: int = 4) -> dict[str, float]:
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    run = secrets.token_hex(3)

    def worker(index: int) -> None:
        client = Client(token)
        mine = []
        for n in range(per_thread):
            body = {
                "schemas": [USER_SCHEMA],
                "userName": f"new-{run}-{index}-{n}@example.com",
                "name": {"givenName": "New", "familyName": f"User{n}"},
                "emails": [
                    {"value": f"new-{run}-{index}-{n}@example.com", "type": "work", "primary": True}
                ],
                "externalId": f"new-{run}-{index}-{n}",
                "active": True,
            }
            status, ms, data = client.call("POST", "/scim/v2/Users", body)
            if status != 201:
                errors.append(f"{status} {data[:200]!r}")
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
        raise SystemExit(f"POST /Users failed {len(errors)} times, first: {errors[0]}")
    total = per_thread * threads
    return {"requests": total, "seconds": elapsed, "rps": total / elapsed, "p50": p50(latencies)}


def measure_gets(client: Client, paths: list[str], what: str) -> list[float]:
    samples = []
    for path in paths:
        status, ms, data = client.call("GET", path)
        _expect(status, (200,), what, data)
        samples.append(ms)
    return samples


def measure_filter(client: Client, count: int, user_count: int) -> dict[str, float]:
    paths = []
    for n in range(count):
        username = f"BENCH{(n * 7919) % user_count:06d}@example.com"  # case-insensitive
        paths.append("/scim/v2/Users?filter=" + quote(f'userName eq "{username}"'))
    measure_gets(client, paths[:20], "warm-up filter")
    samples = measure_gets(client, paths, "filter userName eq")
    _, _, data = client.call("GET", paths[0])
    if json.loads(data)["totalResults"] != 1:
        raise SystemExit(f"filter found {json.loads(data)['totalResults']} users, not 1")
    return {"p50": p50(samples), "p95": p95(samples), "n": len(samples)}


def measure_page(client: Client, count: int, user_count: int) -> dict[str, float]:
    paths = ["/scim/v2/Users?startIndex=1&count=100"] * count
    measure_gets(client, paths[:5], "warm-up page")
    samples = measure_gets(client, paths, "page")
    _, _, data = client.call("GET", paths[0])
    body = json.loads(data)
    # Earlier rounds' POSTs add users: at least the seeded ones must be counted.
    if len(body["Resources"]) != 100 or body["totalResults"] < user_count:
        raise SystemExit(f"page: {len(body['Resources'])} of {body['totalResults']}")
    return {"p50": p50(samples), "p95": p95(samples), "n": len(samples)}


def measure_group(client: Client, group_id: str, outsiders: list[str]) -> dict[str, float]:
    adds, removes, gets = [], [], []
    path = f"/scim/v2/Groups/{group_id}"
    for user_id in outsiders:
        add = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        }
        status, ms, data = client.call("PATCH", path, add)
        _expect(status, (200, 204), "PATCH add member", data)
        adds.append(ms)
        remove = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}],
        }
        status, ms, data = client.call("PATCH", path, remove)
        _expect(status, (200, 204), "PATCH remove member", data)
        removes.append(ms)
        status, ms, data = client.call("GET", path + "?excludedAttributes=members")
        _expect(status, (200,), "GET group without members", data)
        gets.append(ms)
    return {
        "add_p50": p50(adds[5:]),
        "remove_p50": p50(removes[5:]),
        "get_p50": p50(gets[5:]),
        "add_p95": p95(adds[5:]),
        "remove_p95": p95(removes[5:]),
        "get_p95": p95(gets[5:]),
        "n": len(adds) - 5,
    }


# ---- report --------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    post = results["post"]
    filt = results["filter"]
    page = results["page"]
    small = results["small"]
    large = results["large"]
    host = results["machine"]

    def ratio(key: str) -> float:
        return large[key] / small[key]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def spread(part: str, key: str, unit: str = "ms") -> str:
        values = [measured[part][key] for measured in results["rounds"]]
        if len(values) < 2:
            return ""
        digits = 0 if unit == "req/s" else 2
        return f"; rounds {min(values):.{digits}f}-{max(values):.{digits}f} {unit}"

    command = " ".join([".venv/bin/python bench/scim_bench.py", shlex.join(sys.argv[1:])]).strip()
    lines = [
        "## SCIM",
        "",
        f"Command: `{command}` (run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"median of {len(results['rounds'])} measurement rounds against one server)",
        "",
        f"Machine: {host['nproc']} CPUs (`nproc`), {host['memory']} RAM (`free -h`), "
        f"CPU {host['cpu']}, Python {host['python']}, PostgreSQL and Redis on the same host. "
        "The machine is shared with other jobs, so numbers are noisy "
        f"(load average 1/5/15 min at the start: {host['load']}; at the end: {results['load_end']}).",
        "",
        f"Server: `gunicorn axero_idp.wsgi --workers 2` from the repo root "
        f"({results['server']}) on 127.0.0.1, DEBUG off, "
        f"REDIS_URL set; SCIM request log and audit records written as in production. "
        f"Database: {args.users:,} users seeded with COPY in {results['seed_seconds']:.1f} s, "
        "one group of 100 and one of 50,000 members. Latencies are client-side "
        "(http.client, one keep-alive connection per client thread), so they include HTTP.",
        "",
        "| measurement | result | target | |",
        "| --- | --- | --- | --- |",
        f"| POST /Users, concurrency 4 ({post['requests']} requests) | "
        f"{post['rps']:.0f} req/s (p50 {post['p50']:.1f} ms{spread('post', 'rps', 'req/s')}) | "
        f"> 320 req/s | {verdict(post['rps'] > 320)} |",
        f'| `filter=userName eq "..."` p50 (p95), {filt["n"]} requests | '
        f"{filt['p50']:.2f} ms (p95 {filt['p95']:.2f}{spread('filter', 'p50')}) | < 3 ms | "
        f"{verdict(filt['p50'] < 3)} |",
        f"| `startIndex=1&count=100` p50 (p95), {page['n']} requests | "
        f"{page['p50']:.2f} ms (p95 {page['p95']:.2f}{spread('page', 'p50')}) | < 25 ms | "
        f"{verdict(page['p50'] < 25)} |",
    ]
    for key, label in (
        ("add_p50", "PATCH add one member"),
        ("remove_p50", "PATCH remove one member"),
        ("get_p50", "GET group `excludedAttributes=members`"),
    ):
        ok = ratio(key) <= 1.5 and large[key] < 20
        lines.append(
            f"| {label} p50: 100 / 50,000 members ({small['n']} each) | "
            f"{small[key]:.2f} / {large[key]:.2f} ms, ratio {ratio(key):.2f} | "
            f"ratio <= 1.5 and < 20 ms | {verdict(ok)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--posts-per-thread", type=int, default=250)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--group-rounds", type=int, default=105)
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurement rounds; the median is reported"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help='extra gunicorn options, e.g. "--worker-class sync" to compare worker classes',
    )
    args = parser.parse_args()
    if args.users < 60_500:
        raise SystemExit("--users must be at least 60,500 (the 50,000-member group and outsiders)")
    (ROOT / "var").mkdir(exist_ok=True)

    print(f"seeding {args.users:,} users into {DATABASE_URL} ...", file=sys.stderr)
    recreate_database()
    setup_django()
    seeded = seed(args.users)
    outsiders = seeded["outsiders"]
    assert isinstance(outsiders, list)
    token = str(seeded["token"])
    print(f"seeded in {seeded['seed_seconds']:.1f} s; starting gunicorn", file=sys.stderr)
    extra = shlex.split(args.gunicorn_args)
    results: dict[str, Any] = {
        "machine": machine(),
        "seed_seconds": seeded["seed_seconds"],
        "server": server_settings(extra),
    }
    server = start_server(extra)
    rounds: list[dict[str, Any]] = []
    try:
        group_rounds = min(args.group_rounds, len(outsiders) // 2)
        for index in range(args.repeat):
            client = Client(token)
            print(f"round {index + 1}/{args.repeat}: filter ...", file=sys.stderr)
            measured: dict[str, Any] = {"filter": measure_filter(client, args.samples, args.users)}
            print("page ...", file=sys.stderr)
            measured["page"] = measure_page(client, max(50, args.samples // 3), args.users)
            print("groups ...", file=sys.stderr)
            # Each round adds and removes the same outsiders: the groups end as they began.
            measured["small"] = measure_group(
                client, str(seeded["small"]), outsiders[:group_rounds]
            )
            measured["large"] = measure_group(
                client, str(seeded["large"]), outsiders[group_rounds : 2 * group_rounds]
            )
            print("POST /Users ...", file=sys.stderr)
            measured["post"] = measure_post_users(token, args.posts_per_thread)
            rounds.append(measured)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["rounds"] = rounds
    for part in rounds[0]:
        # The median round per number: one noisy round on a shared machine does not decide.
        results[part] = {
            key: statistics.median(measured[part][key] for measured in rounds)
            for key in rounds[0][part]
        }
    results["load_end"] = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(report(results, args))


if __name__ == "__main__":
    main()
