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
import io
import json
import os
import platform
import runpy
import secrets
import shlex
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
HOST = "127.0.0.1"
SCIM_JSON = "application/scim+json"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-" + secrets.token_urlsafe(24),
    "DEBUG": "false",
    "SITE_URL": f"http://{HOST}:{PORT}",
    "DJANGO_SETTINGS_MODULE": "axero_idp.settings",
}


# ---- database ------------------------------------------------------------------------


def recreate_database() -> None:
    import psycopg2

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    if name in ("", "postgres", "axero") or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing to drop {DATABASE_URL}: use a dedicated local database")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_django() -> None:
    os.environ.update(SERVER_ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _copy_text(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(table: str, columns: list[str], rows: list[list[object]]) -> None:
    from django.db import connection

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(v) for v in row) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def seed(user_count: int) -> dict[str, Any]:
    """Users, two groups and a token; returns what the measurements need."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import JSONField
    from django.utils import timezone

    from scim.tokens import scim_token_create
    from users.models import Role, RoleMembership, User
    from users.services import Actor

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fields = list(User._meta.concrete_fields)
    now = timezone.now()
    ids = [uuid.uuid4() for _ in range(user_count)]
    rows = []
    for n, user_id in enumerate(ids):
        user = User(
            id=user_id,
            username=f"bench{n:06d}@example.com",
            email=f"bench{n:06d}@example.com",
            first_name=f"First{n}",
            last_name=f"Last{n % 977}",
            display_name=f"First{n} Last{n % 977}",
            title=("Engineer", "Manager", "Analyst")[n % 3],
            department=("R&D", "Sales", "Ops", "Finance")[n % 4],
            employee_number=str(100000 + n),
            external_id=f"ext-{n}",
            source="scim",
            password="!",  # unusable: the benchmark never logs in
            created_at=now - dt.timedelta(seconds=user_count - n),
            updated_at=now,
        )
        row = []
        for field in fields:
            value = getattr(user, field.attname)
            row.append(json.dumps(value) if isinstance(field, JSONField) else value)
        rows.append(row)
    for start in range(0, len(rows), 20000):
        _copy(User._meta.db_table, [f.column for f in fields], rows[start : start + 20000])
    small = Role.objects.create(display_name="Bench 100", external_id="bench-100")
    large = Role.objects.create(display_name="Bench 50k", external_id="bench-50k")
    member_columns = ["role_id", "user_id", "source", "created_at"]
    _copy(
        RoleMembership._meta.db_table,
        member_columns,
        [[small.pk, user_id, "scim", now] for user_id in ids[:100]],
    )
    _copy(
        RoleMembership._meta.db_table,
        member_columns,
        [[large.pk, user_id, "scim", now] for user_id in ids[:50000]],
    )
    with connection.cursor() as cursor:
        # Outside a transaction (Django runs in autocommit): fresh statistics and a
        # visibility map, as a database that has been running a while would have.
        cursor.execute("VACUUM ANALYZE")
    _, raw_token = scim_token_create(name="bench", actor=Actor.system("bench"))
    seconds = time.perf_counter() - started
    connection.close()
    return {
        "token": raw_token,
        "user_ids": ids,
        "small": str(small.pk),
        "large": str(large.pk),
        # Users in neither group: PATCH adds and removes them.
        "outsiders": [str(i) for i in ids[60000:60400]],
        "seed_seconds": seconds,
    }


# ---- server --------------------------------------------------------------------------


def server_settings(extra: list[str]) -> str:
    """How gunicorn runs: gunicorn.conf.py (read from the repo root) plus extra options."""
    settings: dict[str, Any] = {}
    conf = ROOT / "gunicorn.conf.py"
    if conf.exists():
        settings = runpy.run_path(str(conf))
    worker_class = settings.get("worker_class", "sync")
    described = f"worker class {worker_class}"
    if worker_class == "gthread":
        described += f", {settings.get('threads', 1)} threads per worker"
    if extra:
        described += f", extra options `{' '.join(extra)}`"
    return described


def start_server(extra: list[str]) -> subprocess.Popen[bytes]:
    log = open(ROOT / "var" / "bench-gunicorn.log", "wb")  # noqa: SIM115 - lives with the server
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "axero_idp.wsgi",
            "--workers",
            "2",
            "--bind",
            f"{HOST}:{PORT}",
            "--access-logfile",
            "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s (see var/bench-gunicorn.log)")


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


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    memory = next((line.split()[1] for line in free.splitlines() if line.startswith("Mem:")), "?")
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "load": " / ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


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
