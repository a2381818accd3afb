"""Queue the drain task after commit, never failing the caller when the broker is down.

A drain takes every pending mark there is, so one queued drain serves every mark
committed before it runs. In a login storm each web process therefore queues at most
one drain per DRAIN_WINDOW seconds, with a countdown a little longer than the window,
so that the drain runs after every mark it stood in for. Only the broker traffic is
coalesced: the marks themselves are rows, and beat drains every minute whatever
happens here. With tasks run in-process (make run, CELERY_TASK_ALWAYS_EAGER) every
commit drains at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from django.conf import settings
from django.db import transaction

from axero_idp.task_queue import task_enqueue

logger = logging.getLogger(__name__)

DRAIN_WINDOW: Final = 0.8
DRAIN_COUNTDOWN: Final = 1.0

_lock = threading.Lock()
_next_queue_at = 0.0


def _queue_now() -> bool:
    global _next_queue_at
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True
    now = time.monotonic()
    with _lock:
        if now < _next_queue_at:
            return False
        _next_queue_at = now + DRAIN_WINDOW
        return True


def _enqueue_drain() -> None:
    if not _queue_now():
        return
    try:
        task_enqueue("personas.tasks.personas_pending_drain", countdown=DRAIN_COUNTDOWN)
    except Exception:
        # The marks are in the database already; the every-minute beat run drains them.
        logger.warning("could not queue the persona drain; beat will pick it up", exc_info=True)


def drain_after_commit() -> None:
    """Ask a worker to drain the pending marks once the current transaction commits."""
    transaction.on_commit(_enqueue_drain)
