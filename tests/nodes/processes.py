"""The product as real processes on loopback: gunicorn nodes and a Celery worker sharing
one PostgreSQL database and one Redis database, started from the dev venv the way
tests/tools/smoke.py starts the production stack (own process group, log file, SIGTERM
then SIGKILL). Used by the two-node tests (tests/nodes/), the fault tests (tests/faults/) and by
bench/load.py."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
READY_SECONDS = 60.0


class ProcessFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_named(name: str) -> str:
    """DATABASE_URL (or the suite's default server) with its database name replaced."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero")
    return base.rsplit("/", 1)[0] + "/" + name


def product_env(*, database_url: str, redis_url: str, site_url: str) -> dict[str, str]:
    """The environment every process of one deployment shares: same database, same
    Redis, same secret key and the same public URL (the load balancer's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="nodes-secret-key-not-for-production-0123456789abcdef",
        DEBUG="false",
        SITE_URL=site_url,
        ALLOWED_HOSTS="localhost,127.0.0.1",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="/dev/null",
        CELERY_TASK_ALWAYS_EAGER="false",
        WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
        IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS="true",
    )
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the process and its children (its own process group), as a deploy or
        the OOM killer does: no warm shutdown, no acknowledgement."""
        os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM the process group (no wait)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)

    def wait_or_kill(self, timeout: float = 30) -> None:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class Node:
    """One gunicorn instance: its own port, the deployment's shared environment."""

    process: Process
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    env: dict[str, str]
    logs: Path
    processes: list[Process] = field(default_factory=list)

    def start(
        self, name: str, command: list[str], extra_env: dict[str, str] | None = None
    ) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def node(self, name: str, *, port: int | None = None, workers: int = 2) -> Node:
        port = port or free_port()
        process = self.start(
            name,
            ["gunicorn", "axero_idp.wsgi"],
            {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)},
        )
        node = Node(process, port)
        self.wait_ready(node)
        return node

    def worker(self, name: str = "worker", *, concurrency: int = 2) -> Process:
        return self.start(
            name,
            ["celery", "-A", "axero_idp", "worker", "-l", "WARNING", "-c", str(concurrency)],
        )

    def wait_ready(self, node: Node) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if not node.process.alive():
                raise ProcessFailed(
                    f"{node.process.name} exited:\n{node.process.log_text()[-3000:]}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{node.base}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise ProcessFailed(f"{node.process.name} not ready after {READY_SECONDS:.0f} s")

    def check_running(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise ProcessFailed(f"{process.name} exited early:\n{process.log_text()[-3000:]}")

    def tracebacks(self) -> dict[str, str]:
        return {p.name: p.log_text()[-4000:] for p in self.processes if "Traceback" in p.log_text()}

    def stop(self) -> None:
        """SIGTERM each process group, then wait; SIGKILL what hangs."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait_or_kill()


@contextlib.contextmanager
def deployment(env: dict[str, str], logs: Path) -> Iterator[Deployment]:
    logs.mkdir(parents=True, exist_ok=True)
    running = Deployment(env=env, logs=logs)
    try:
        yield running
    finally:
        running.stop()
