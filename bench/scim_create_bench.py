"""SCIM create benchmark: our POST /Users against django-scim2's, in one run. By hand.

    .venv/bin/python bench/scim_create_bench.py [--rounds 6] [--posts 400] [--port 8941]
        [--no-worker]

Run by hand, never in the suite. Loopback only, bounded loops. It:
1. makes django-scim2's own venv at var/scim2-venv if it is missing (pip install
   django-scim2, Django 5.2, psycopg2-binary, gunicorn: nothing goes into the product's
   venv);
2. drops and recreates two databases: ours (BENCH_SCIM_DATABASE_URL, default
   `axero_bench_scim_create`), migrated, with a SCIM token; and the peer's
   (BENCH_SCIM2_DATABASE_URL, default `scim2_bench`), migrated by bench/scim2_peer (a
   separate minimal Django project on django-scim2), with a user and its bearer token;
3. serves `gunicorn axero_idp.wsgi` (ours, from the repo root: gunicorn.conf.py applies;
   the SCIM request log, the audit record and the domain event outbox are written as in
   production) with its Celery worker (`celery -A axero_idp worker -l INFO`, as the
   README, Makefile and docker-compose run it), and `gunicorn scim2_peer.wsgi` (from
   bench/, with the peer's venv), both 2 workers x 4 threads (gthread), access log on,
   plain http on loopback;
4. warms both up (50 creates each), then per round, in turn and alternating which goes
   first, 4 client threads (one keep-alive connection each) POST the same SCIM User
   bodies (userName, name, emails, externalId, active) to each: creates per second, p50,
   and server CPU per create (gunicorn master + workers, /proc; bench/peers.py).
Reports per-round numbers, medians over rounds, ratios, machine and load average.

Ours' worker is part of ours' server. A create leaves work for it: the request log rows
wait in a Redis list for its batched drain (scim.requestlog_buffer), and the persona
drain and the event dispatch it queues run there too. So ours' round ends only when the
worker has done all of it (Celery queue, unacknowledged countdown tasks and the request
log list empty: bench/peers.py queued_work_wait), and ours' server CPU per create is
gunicorn's plus the worker's over the whole round, tail included; PostgreSQL CPU counts
every backend of ours' database, the worker's included. Creates/s is the clients' (POSTs
only): the tail is mostly the drains' countdown, idle time, and counting it would charge
ours ~2.5 s of waiting a round; it is reported beside it ("drained after", and creates/s
with it). Redis server CPU per create (INFO cpu; only ours uses Redis) is reported too,
not in the ratios. `--no-worker` measures as before the worker existed: no worker, the
request log written by each request (SCIM_REQUEST_LOG_BUFFER=false), the queued persona
and event work left undone and uncounted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peers as serving  # noqa: E402

BIN = ROOT / ".venv" / "bin"
# The product checkout served as "ours" (default: this one). Pointing it at an export of
# an earlier commit measures before and after a change with the same bench.
PRODUCT = Path(os.environ.get("BENCH_PRODUCT_ROOT", str(ROOT))).resolve()
PEER_VENV = ROOT / "var" / "scim2-venv"
PEER_PACKAGES = ["django==5.2.*", "django-scim2==0.23.*", "psycopg2-binary", "gunicorn"]
OURS_DB = os.environ.get(
    "BENCH_SCIM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_bench_scim_create"
)
PEER_DB = os.environ.get(
    "BENCH_SCIM2_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scim2_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# scim.requestlog_buffer.KEY in the cache's key space (CACHE_KEY_PREFIX "axero", version 1).
REQUEST_LOG_LIST = "axero:1:scim:request-log"
# Set by main(): False under --no-worker.
WITH_WORKER = True
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SECRET = "bench-" + secrets.token_urlsafe(24)


def recreate(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name in ("", "postgres", "axero") or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing to drop {url}: use a dedicated local database")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user="postgres", dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def name_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ours_env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DATABASE_URL=OURS_DB,
        REDIS_URL=REDIS_URL,
        SECRET_KEY=SECRET,
        DEBUG="false",
        SITE_URL=f"http://127.0.0.1:{port}",
        CELERY_TASK_ALWAYS_EAGER="false",
        # Connections outlive the run (both servers alike): the PostgreSQL backends
        # whose CPU is counted then live through every round.
        DB_CONN_MAX_AGE="3600",
    )
    if not WITH_WORKER:
        env["SCIM_REQUEST_LOG_BUFFER"] = "false"
    return env


def peer_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="scim2_peer.settings",
        SCIM2_DATABASE_URL=PEER_DB,
        SECRET_KEY=SECRET,
        SCIM2_CONN_MAX_AGE="3600",
    )
    return env


def peer_venv() -> None:
    if (PEER_VENV / "bin" / "gunicorn").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def prepare_ours(port: int) -> str:
    """Migrate ours; return a fresh SCIM token."""
    recreate(OURS_DB)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    manage = [str(BIN / "python"), str(PRODUCT / "manage.py")]
    env = ours_env(port)
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True, cwd=PRODUCT)
    script = (
        "from scim.tokens import scim_token_create;"
        "from users.services import Actor;"
        "print(scim_token_create(name='bench', actor=Actor.system('bench'))[1])"
    )
    out = subprocess.run(
        [*manage, "shell", "-c", script],
        env=env,
        check=True,
        cwd=PRODUCT,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def prepare_peer() -> str:
    """Migrate the peer; return a fresh bearer token of a user allowed in."""
    recreate(PEER_DB)
    python = str(PEER_VENV / "bin" / "python")
    subprocess.run(
        [python, "-m", "django", "migrate", "--no-input", "-v", "0"],
        env=peer_env(),
        check=True,
        cwd=ROOT / "bench",
    )
    token = secrets.token_urlsafe(32)
    script = (
        "import hashlib;"
        "from scim2_peer.models import User, Token;"
        "user = User.objects.create(username='scim-client');"
        f"Token.objects.create(user=user, digest=hashlib.sha256({token!r}.encode()).hexdigest())"
    )
    subprocess.run(
        [python, "-m", "django", "shell", "-c", script],
        env=peer_env(),
        check=True,
        cwd=ROOT / "bench",
    )
    return token


@dataclass
class Target:
    name: str
    port: int
    token: str
    database: str
    pid: int = 0
    worker_pid: int = 0  # ours' Celery worker; 0: none
    uses_redis: bool = False
    rounds: list[Round] = field(default_factory=list)


@dataclass
class Round:
    creates: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float = 0.0  # gunicorn's and the worker's
    db_cpu_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    redis_cpu_seconds: float = 0.0
    drained_after: float = 0.0  # seconds from the last response until the worker was done

    @property
    def per_second(self) -> float:
        return self.creates / self.seconds

    @property
    def per_second_drained(self) -> float:
        return self.creates / (self.seconds + self.drained_after)

    @property
    def worker_cpu_ms(self) -> float:
        return self.worker_cpu_seconds * 1000 / self.creates

    @property
    def redis_cpu_ms(self) -> float:
        return self.redis_cpu_seconds * 1000 / self.creates

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.creates

    @property
    def db_cpu_ms(self) -> float:
        return self.db_cpu_seconds * 1000 / self.creates


def body(tag: str) -> bytes:
    return json.dumps(
        {
            "schemas": [USER_SCHEMA],
            "userName": f"{tag}@example.com",
            "name": {"givenName": "New", "familyName": f"User {tag}"},
            "emails": [{"value": f"{tag}@example.com", "type": "work", "primary": True}],
            "externalId": tag,
            "active": True,
        }
    ).encode()


def post_users(target: Target, count: int, clients: int = 4) -> Round:
    """count creates from `clients` threads, each on one keep-alive connection."""
    run = secrets.token_hex(4)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    headers = {
        "Authorization": f"Bearer {target.token}",
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
    }

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        mine = []
        for n in range(count // clients):
            started = time.perf_counter()
            connection.request("POST", "/scim/v2/Users", body(f"u-{run}-{index}-{n}"), headers)
            response = connection.getresponse()
            data = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 201:
                with lock:
                    errors.append(f"{response.status} {data[:300]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{target.name}: {len(errors)} creates failed, first: {errors[0]}")
    return Round(len(latencies), seconds, latencies)


def worker_cpu_seconds(target: Target) -> float:
    return serving.server_cpu_seconds(target.worker_pid) if target.worker_pid else 0.0


def timed_round(target: Target, count: int) -> None:
    before = serving.server_cpu_seconds(target.pid)
    worker_before = worker_cpu_seconds(target)
    db_before = serving.database_cpu_seconds(target.database)
    redis_before = serving.redis_cpu_seconds(REDIS_URL)
    result = post_users(target, count)
    if target.worker_pid:
        result.drained_after = serving.queued_work_wait(REDIS_URL, [REQUEST_LOG_LIST])
    result.worker_cpu_seconds = worker_cpu_seconds(target) - worker_before
    result.cpu_seconds = serving.server_cpu_seconds(target.pid) - before + result.worker_cpu_seconds
    result.db_cpu_seconds = serving.database_cpu_seconds(target.database) - db_before
    if target.uses_redis:
        result.redis_cpu_seconds = serving.redis_cpu_seconds(REDIS_URL) - redis_before
    target.rounds.append(result)


def report(targets: list[Target], args: argparse.Namespace, load_start: str) -> None:
    print(f"\nmachine: {serving.machine()}")
    print(
        f"load average 1/5/15 min: {load_start} at the start, {serving.load_average()} at the end"
    )
    worker = (
        "ours with its Celery worker (its CPU counted in ours' server CPU; rounds end when "
        "it has drained what they queued)"
        if WITH_WORKER
        else "no worker (--no-worker: request log written by each request)"
    )
    print(
        f"run: {args.rounds} rounds x {args.posts} POST /Users per target at concurrency 4, "
        "both gunicorn 2 workers x 4 threads (gthread), PostgreSQL, plain http on loopback; "
        f"{worker}\n"
    )
    print(
        "| target | round | creates/s | server CPU ms/create | of which worker | "
        "PostgreSQL CPU ms/create | Redis CPU ms/create | p50 ms | drained after s | "
        "creates/s with the drain |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for target in targets:
        for index, row in enumerate(target.rounds, 1):
            print(
                f"| {target.name} | {index} | {row.per_second:.1f} | {row.cpu_ms:.2f} | "
                f"{row.worker_cpu_ms:.2f} | {row.db_cpu_ms:.2f} | {row.redis_cpu_ms:.2f} | "
                f"{statistics.median(row.latencies_ms):.1f} | {row.drained_after:.1f} | "
                f"{row.per_second_drained:.1f} |"
            )
    print(
        "\n| target | median creates/s | median server CPU ms/create | of which worker | "
        "median PostgreSQL CPU ms/create | median Redis CPU ms/create | p50 ms (all rounds) | "
        "median creates/s with the drain |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    medians = []
    for target in targets:
        rounds = target.rounds
        rps = statistics.median(r.per_second for r in rounds)
        cpu = statistics.median(r.cpu_ms for r in rounds)
        db_cpu = statistics.median(r.db_cpu_ms for r in rounds)
        p50 = statistics.median(ms for r in rounds for ms in r.latencies_ms)
        drained = statistics.median(r.per_second_drained for r in rounds)
        medians.append((rps, cpu, db_cpu, drained))
        print(
            f"| {target.name} | {rps:.1f} | {cpu:.2f} | "
            f"{statistics.median(r.worker_cpu_ms for r in rounds):.2f} | {db_cpu:.2f} | "
            f"{statistics.median(r.redis_cpu_ms for r in rounds):.2f} | {p50:.1f} | "
            f"{drained:.1f} |"
        )
    (ours_rps, ours_cpu, ours_db, ours_drained), (peer_rps, peer_cpu, peer_db, _) = medians
    print(
        f"\nratio ours/django-scim2: creates/s {ours_rps / peer_rps:.2f}x "
        f"({ours_drained / peer_rps:.2f}x with ours' drain time), "
        f"server CPU per create django-scim2/ours {peer_cpu / ours_cpu:.2f}x "
        f"(with PostgreSQL's: {(peer_cpu + peer_db) / (ours_cpu + ours_db):.2f}x; "
        "medians over rounds; > 1 means ours is ahead; ours' server CPU includes its worker)"
    )


def ours_worker(
    port: int, logs: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes] | None]:
    return serving.ours_celery_worker(
        BIN,
        product=PRODUCT,
        env=ours_env(port),
        log=logs / f"scim-create-ours-worker-{port}.log",
        enabled=WITH_WORKER,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--posts", type=int, default=400, help="creates per target per round")
    parser.add_argument("--port", type=int, default=8941)
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="no Celery worker for ours, the request log written by each request (as before)",
    )
    args = parser.parse_args()
    if not (0 < args.rounds <= 12 and 4 <= args.posts <= 5000):
        parser.error("bounded runs only: rounds <= 12, 4 <= posts <= 5000")
    global WITH_WORKER
    WITH_WORKER = not args.no_worker
    peer_venv()
    ours = Target(
        "ours (audit, request log, outbox)", args.port, prepare_ours(args.port), name_of(OURS_DB)
    )
    ours.uses_redis = True
    peer = Target("django-scim2", args.port + 1, prepare_peer(), name_of(PEER_DB))
    logs = Path(tempfile.gettempdir())
    load_start = serving.load_average()
    with (
        serving.gunicorn(
            [
                str(BIN / "gunicorn"),
                "axero_idp.wsgi",
                *serving.GUNICORN_WORKERS,
                "-b",
                f"127.0.0.1:{ours.port}",
                "--access-logfile",
                "-",
            ],
            cwd=PRODUCT,
            env=ours_env(ours.port),
            port=ours.port,
            log=logs / f"scim-create-ours-{ours.port}.log",
        ) as ours_server,
        serving.gunicorn(
            [
                str(PEER_VENV / "bin" / "gunicorn"),
                "scim2_peer.wsgi",
                *serving.GUNICORN_WORKERS,
                "-b",
                f"127.0.0.1:{peer.port}",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT / "bench",
            env=peer_env(),
            port=peer.port,
            log=logs / f"scim-create-peer-{peer.port}.log",
        ) as peer_server,
        ours_worker(ours.port, logs) as worker,
    ):
        ours.pid, peer.pid = ours_server.pid, peer_server.pid
        ours.worker_pid = worker.pid if worker else 0
        for target in (ours, peer):
            post_users(target, 52)  # warm-up: per-worker caches, connections
        if worker:
            serving.queued_work_wait(REDIS_URL, [REQUEST_LOG_LIST])
        for round_no in range(args.rounds):
            for target in (ours, peer) if round_no % 2 == 0 else (peer, ours):
                timed_round(target, args.posts)
    report([ours, peer], args, load_start)


if __name__ == "__main__":
    main()
