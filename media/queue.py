"""The image pipeline's queueing: services and tasks ask for work here, by task name.

Queue the photo drain after commit, never failing the caller when the broker is down.

A drain takes every due row there is, so one queued drain serves every photo URL
committed before it runs: each web process queues at most one per DRAIN_WINDOW seconds
(as personas.queue and events.queue do). Only the broker traffic is coalesced: the
rows are the truth, and beat drains every minute whatever happens here. With tasks run
in-process (make run, CELERY_TASK_ALWAYS_EAGER) every commit drains at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Final

from django.conf import settings
from django.db import transaction

from axero_idp.task_queue import task_enqueue

logger = logging.getLogger(__name__)

DRAIN_WINDOW: Final = 0.5
DRAIN_COUNTDOWN: Final = 0.6

_lock = threading.Lock()
_next_queue_at = 0.0


def _eager() -> bool:
    from axero_idp.celery import app

    return bool(settings.CELERY_TASK_ALWAYS_EAGER or app.conf.task_always_eager)


def _queue_now() -> bool:
    global _next_queue_at
    if _eager():
        return True
    now = time.monotonic()
    with _lock:
        if now < _next_queue_at:
            return False
        _next_queue_at = now + DRAIN_WINDOW
        return True


def drain_enqueue(*, coalesce: bool = True) -> bool:
    """Queue a drain now (False, logged, when the broker is down: beat drains later)."""
    if coalesce and not _queue_now():
        return True
    try:
        task_enqueue(
            "media.tasks.photo_fetches_drain", countdown=0 if _eager() else DRAIN_COUNTDOWN
        )
    except Exception:
        # The rows are committed; the every-minute beat run drains them.
        logger.warning("could not queue the photo drain; beat will pick it up", exc_info=True)
        return False
    return True


def drain_after_commit() -> None:
    """Ask a worker to drain the pending photo fetches once the current transaction
    commits."""
    transaction.on_commit(drain_enqueue)


def photo_fetch_enqueue(*, user_id: uuid.UUID, url: str, origin: str = "") -> bool:
    """Queue one fetch (the catch-up and the refresh); a broker outage is logged, never
    raised: their next run tries again."""
    try:
        task_enqueue("media.tasks.photo_fetch", str(user_id), url, origin)
    except Exception:
        logger.warning(
            "photo fetch for user %s not queued (broker unavailable); the next run will",
            user_id,
            exc_info=True,
        )
        return False
    return True
