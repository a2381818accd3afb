"""Ask for delivery after commit, never failing the caller when the broker is down.

One dispatch stamps every committed event and queues a delivery for each endpoint with
something to send, so one dispatch serves every commit before it runs: each web
process queues at most one per DISPATCH_WINDOW seconds (as personas.queue does for its
drain). The outbox rows are the truth: beat dispatches every minute whatever happens
here. With tasks run in-process (make run, the tests) every commit dispatches at once.
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

DISPATCH_WINDOW: Final = 0.5
DISPATCH_COUNTDOWN: Final = 0.6

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
        _next_queue_at = now + DISPATCH_WINDOW
        return True


def _enqueue_dispatch() -> None:
    if not _queue_now():
        return
    try:
        task_enqueue(
            "events.tasks.events_dispatch", countdown=0 if _eager() else DISPATCH_COUNTDOWN
        )
    except Exception:
        # The events are committed rows; the every-minute beat run delivers them.
        logger.warning("could not queue event dispatch; beat will pick it up", exc_info=True)


def dispatch_after_commit() -> None:
    """Ask a worker to deliver new events once the current transaction commits."""
    transaction.on_commit(_enqueue_dispatch)
