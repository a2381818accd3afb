"""Load with a consistency check: everything at once for a minute, then nothing lost.

    .venv/bin/python bench/load.py [--seconds 60] [--scim-threads 4] [--nodes 2]
        [--web-workers 2] [--worker-concurrency 2]

Run by hand, never in the suite (tests/nodes/test_load_check.py runs the same workload
and checker for a few seconds in CI). Loopback only; every loop stops at the deadline
(at most 600 s) and the drain is bounded. It:
1. drops and recreates the database `axero_load` (BENCH_DATABASE_URL), migrates it,
   flushes its Redis database (BENCH_REDIS_URL, default index 9);
2. starts `--nodes` gunicorn instances (gunicorn.conf.py, `--web-workers` each, DEBUG
   off) sharing that database and Redis behind one SITE_URL, and one Celery worker
   (no beat: delivery must not need the every-minute safety net);
3. in-process: a SCIM token, a webhook endpoint for every event type pointing at a
   receiver on loopback, the pysaml2 IdP peer (tests/sso/idp_peer/) imported; 3 groups;
4. runs tests/nodes/consistency.py's workload for `--seconds`: SCIM creates, updates
   and group PATCHes, /Bulk, SAML logins, round robin over the nodes, while the worker
   delivers webhooks;
5. waits for the outbox to drain, compares the final state with what was acknowledged
   (zero 5xx, zero lost or duplicated users, updates, memberships, audit records,
   events and webhook deliveries) and prints the verdict, the counts and a Markdown
   block for BENCHMARKS.md. Exit status 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_load")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
MAX_SECONDS = 600.0
DRAIN_SECONDS = 300.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scim-threads", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:.0f}]")
    if not 1 <= args.nodes <= 4 or not 1 <= args.scim_threads <= 32:
        parser.error("--nodes must be 1..4 and --scim-threads 1..32")
    return args


def database_recreate() -> None:
    import psycopg2
    import redis

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = psycopg2.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    redis.Redis.from_url(REDIS_URL).flushdb()


def django_setup(env: dict[str, str]) -> None:
    """This process reads and writes the servers' database through the ORM."""
    for key in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "SITE_URL",
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
    ):
        os.environ[key] = env[key]
    os.environ["DJANGO_SETTINGS_MODULE"] = "axero_idp.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def load_average() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    args = arguments()
    from tests.nodes.consistency import check, drain, prepare, run_load
    from tests.nodes.processes import deployment, free_port, product_env

    workdir = Path(tempfile.mkdtemp(prefix="axero-load-"))
    database_recreate()
    ports = [free_port() for _ in range(args.nodes)]
    env = product_env(
        database_url=DATABASE_URL, redis_url=REDIS_URL, site_url=f"http://127.0.0.1:{ports[0]}"
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    django_setup(env)
    load_before = load_average()
    with deployment(env, workdir / "logs") as running:
        nodes = [
            running.node(f"node-{n + 1}", port=port, workers=args.web_workers)
            for n, port in enumerate(ports)
        ]
        running.worker(concurrency=args.worker_concurrency)
        bases = [node.base for node in nodes]
        setup = prepare(bases, workdir)
        print(
            f"load: {args.seconds:.0f} s on {len(bases)} node(s), logs in {workdir / 'logs'}",
            flush=True,
        )
        started = time.monotonic()
        ledger = run_load(setup, bases, seconds=args.seconds, scim_threads=args.scim_threads)
        elapsed = time.monotonic() - started
        load_during = load_average()
        drained_in = drain(timeout=DRAIN_SECONDS, check_running=running.check_running)
        verdict = check(ledger, setup, drained_in)
        setup.receiver.stop()
        tracebacks = running.tracebacks()
    requests_per_second = verdict.counts["requests"] / elapsed
    print(verdict.text())
    print(f"  {requests_per_second:.1f} requests/s over {elapsed:.1f} s")
    if tracebacks:
        print(f"  tracebacks in: {', '.join(sorted(tracebacks))}")
    print("\n--- for BENCHMARKS.md ---")
    print(f"    {shlex.join([Path(sys.executable).name, 'bench/load.py', *sys.argv[1:]])}")
    print(
        f"Machine: {machine()}; load average (1/5/15 min) before {load_before}, at the end of the load {load_during}."
    )
    print(
        f"Verdict: {'PASS' if verdict.passed else 'FAIL'} — {verdict.counts['requests']} requests in "
        f"{elapsed:.0f} s ({requests_per_second:.1f}/s), {verdict.counts['users created (SCIM + Bulk)']} users "
        f"created, {verdict.counts['user updates']} updates, {verdict.counts['memberships']} memberships, "
        f"{verdict.counts['SAML logins']} SAML logins, {verdict.counts['webhook events delivered']} webhook "
        f"events delivered; outbox drained {drained_in:.1f} s after the load."
    )
    return 0 if verdict.passed and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
