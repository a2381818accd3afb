"""The image pipeline's queueing: services and tasks ask for work here, by task name.

The photo drain is queued after commit (axero_idp.task_queue.CoalescedDrain): a drain
takes every due row there is, so each web process queues at most one per DRAIN_WINDOW
seconds; the rows are the truth, and beat drains every minute whatever happens here.
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

from axero_idp.task_queue import CoalescedDrain, task_enqueue

logger = logging.getLogger(__name__)

DRAIN_WINDOW: Final = 0.5
DRAIN_COUNTDOWN: Final = 0.6

drain = CoalescedDrain(
    "media.tasks.photo_fetches_drain",
    window=DRAIN_WINDOW,
    countdown=DRAIN_COUNTDOWN,
    what="photo drain",
)


def drain_enqueue(*, coalesce: bool = True) -> bool:
    """Queue a drain now (False, logged, when the broker is down: beat drains later)."""
    return drain.enqueue(coalesce=coalesce)


def drain_after_commit() -> None:
    """Ask a worker to drain the pending photo fetches once the current transaction
    commits."""
    drain.after_commit()


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
