"""What the peer benchmarks share (bench/saml_bench.py, bench/scim_create_bench.py):
serving a WSGI app under gunicorn, the server CPU it spends, the machine and its load.

Server CPU is read from /proc: utime + stime of the gunicorn master and its live workers,
plus the master's cutime + cstime (the CPU of workers it has already reaped, should one
be recycled mid-run). Counted before and after each timed round, it is the CPU the
server spent on that round's requests, whatever else the machine was doing. A Celery
worker's (main process and pool children) is read the same way.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")

# The same worker model for every server measured: 2 workers x 4 threads, gthread.
GUNICORN_WORKERS = ["--workers", "2", "--threads", "4", "--worker-class", "gthread"]


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(_stat_fields(int(entry.name))[1]) == pid:
                found.append(int(entry.name))
    return found


def server_cpu_seconds(master_pid: int) -> float:
    """CPU seconds a gunicorn master and all its workers (live or reaped) have used."""
    fields = _stat_fields(master_pid)
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for child in _children(master_pid):
        with contextlib.suppress(OSError):
            child_fields = _stat_fields(child)
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / TICKS


def database_cpu_seconds(database: str) -> float:
    """CPU seconds the PostgreSQL backends connected to `database` have used (both
    servers keep their connections, CONN_MAX_AGE=60, so a round's backends live through
    it). The WAL writer and checkpointer, shared by every database, are not counted."""
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", user="postgres", host="127.0.0.1")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            pids = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS


def redis_cpu_seconds(url: str) -> float:
    """CPU seconds the Redis server has used (INFO cpu: every client's, so on a quiet
    machine the bench's alone)."""
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def queued_work_wait(url: str, lists: list[str], *, timeout: float = 60.0) -> float:
    """Wait until a Celery worker has done everything queued in Redis at `url`: the
    Celery queue and `lists` (buffers a queued task drains) are empty and no task is
    held unacknowledged (a countdown waits there, acks_late keeps a running one there),
    twice in a row; the seconds waited. A message between BRPOP and the unacked hash is
    in neither for an instant: the second look catches it."""
    import redis

    client = redis.Redis.from_url(url)
    started = time.monotonic()
    settled = 0
    while settled < 2:
        pipe = client.pipeline(transaction=False)
        for name in ("celery", *lists):
            pipe.llen(name)
        pipe.hlen("unacked")
        settled = settled + 1 if not any(pipe.execute()) else 0
        if time.monotonic() - started > timeout:
            raise RuntimeError(
                f"queued work still waiting after {timeout:.0f} s: is the worker up?"
            )
        time.sleep(0.1)
    return time.monotonic() - started


@contextlib.contextmanager
def _process(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    ready: Callable[[], bool],
    output_to_log: bool,
    stop_timeout: float,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run command until the block ends, once ready() says it is up (60 s at most)."""
    with open(log, "wb") as log_file:
        stdout = log_file if output_to_log else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=log_file)
        try:
            deadline = time.monotonic() + 60
            while not ready():
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command[:2]} did not start; see {log}")
                time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()


def celery_worker(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """Run a Celery worker until the block ends; wait for its "ready" line first."""
    return _process(
        command,
        cwd=cwd,
        env=env,
        log=log,
        ready=lambda: b" ready." in log.read_bytes(),
        output_to_log=True,
        stop_timeout=30,
    )


def ours_celery_worker(
    bin_dir: Path, *, product: Path, env: dict[str, str], log: Path, enabled: bool
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes] | None]:
    """Ours' worker as the README starts it (celery -A axero_idp worker), or none."""
    if not enabled:
        return contextlib.nullcontext()
    return celery_worker(
        [str(bin_dir / "celery"), "-A", "axero_idp", "worker", "-l", "INFO"],
        cwd=product,
        env=env,
        log=log,
    )


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def gunicorn(
    command: list[str], *, cwd: Path, env: dict[str, str], port: int, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """Serve until the block ends; wait for GET /healthz to answer 200 first."""
    return _process(
        command,
        cwd=cwd,
        env=env,
        log=log,
        ready=lambda: _healthy(port),
        output_to_log=False,
        stop_timeout=15,
    )


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/healthz")
        healthy = connection.getresponse().status == 200
        connection.close()
        return healthy
    except OSError:
        return False
