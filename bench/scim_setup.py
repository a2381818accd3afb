"""Setting up the SCIM benchmark: the database (100,000 users with COPY, two groups, a
token), the gunicorn server, and a description of the machine.

Used by bench/scim_bench.py; it drops and re-creates only the dedicated local database
named by BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/axero_bench).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import os
import platform
import runpy
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
HOST = "127.0.0.1"

SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-" + secrets.token_urlsafe(24),
    "DEBUG": "false",
    "SITE_URL": f"http://{HOST}:{PORT}",
    "DJANGO_SETTINGS_MODULE": "axero_idp.settings",
    # No Celery worker runs beside these benches: each request writes its own request
    # log row (as before the Redis buffer), so that cost stays in what they measure.
    "SCIM_REQUEST_LOG_BUFFER": "false",
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


# ---- report -------------------------------------------------------------------------


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
