"""Queue a Celery task by its name.

Services schedule background work; tasks call services. Naming the task instead of
importing it keeps that dependency one way (services never import a tasks module,
which imports them): import-linter holds the line. Each app registers its tasks by
importing them in AppConfig.ready().
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from celery import current_app
from django.db import transaction

from axero_idp.cache_redis import cache_backend, cache_client

logger = logging.getLogger(__name__)


def task_enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue task `name` with args, as its .apply_async() would (eager where Celery runs
    tasks in-process); a broker error is raised to the caller, who decides."""
    current_app.tasks[name].apply_async(args=args, countdown=countdown)


def tasks_run_in_process() -> bool:
    """Whether Celery runs tasks in the caller's process (make run, the tests)."""
    from django.conf import settings

    return bool(settings.CELERY_TASK_ALWAYS_EAGER or current_app.conf.task_always_eager)


class CoalescedDrain:
    """An outbox's drain task, queued after commit, never failing the caller when the
    broker is down.

    A drain takes every due row there is, so one queued drain serves every row committed
    before it runs. The cluster therefore queues at most one per `window` seconds (each
    process checks its own window, then a Redis key all processes share), with a
    `countdown` a little longer than the window, so the drain runs after every commit it
    stood in for. Only the broker traffic is coalesced: the rows are the truth, and
    beat drains every minute whatever happens here. With tasks run in-process every
    commit drains at once. (The persona marks, the events outbox and the photo fetches
    each have one.)"""

    def __init__(self, task: str, *, window: float, countdown: float, what: str) -> None:
        if countdown <= window:
            raise ValueError("the countdown must outlast the window it stands in for")
        self.task, self.window, self.countdown, self.what = task, window, countdown, what
        self._lock = threading.Lock()
        self._next_queue_at = 0.0

    def window_reset(self) -> None:
        """Forget the last queueing, here and in Redis (tests start each with no drain
        queued)."""
        with self._lock:
            self._next_queue_at = 0.0
        backend = cache_backend()
        if backend is not None:
            with contextlib.suppress(Exception):
                cache_client(backend).delete(
                    backend.make_and_validate_key(f"drain-window:{self.task}")
                )

    def _queue_now(self) -> bool:
        if tasks_run_in_process():
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._next_queue_at:
                return False
            self._next_queue_at = now + self.window
        return self._first_in_cluster()

    def _first_in_cluster(self) -> bool:
        """Whether no other process queued this drain within the window: one SET NX PX
        per window per process, so with N web processes a worker runs one drain per
        window instead of N (each Celery task costs the worker ~5-20 ms whatever it
        finds). Every skipped caller committed before the queued drain runs, since its
        countdown outlasts the window. Redis not answering: queue anyway."""
        backend = cache_backend()
        if backend is None:
            return True
        key = backend.make_and_validate_key(f"drain-window:{self.task}")
        try:
            return bool(cache_client(backend).set(key, 1, nx=True, px=int(self.window * 1000)))
        except Exception:
            return True

    def enqueue(self, *, coalesce: bool = True) -> bool:
        """Queue a drain now (unless one was queued within the window); False, logged,
        when the broker is down."""
        if coalesce and not self._queue_now():
            return True
        try:
            task_enqueue(self.task, countdown=0 if tasks_run_in_process() else self.countdown)
        except Exception:
            # The rows are committed; the every-minute beat run drains them.
            logger.warning("could not queue the %s; beat will pick it up", self.what, exc_info=True)
            return False
        return True

    def after_commit(self) -> None:
        """Queue a drain once the current transaction commits."""
        transaction.on_commit(self.enqueue)
