"""Queue the persona drain after commit (axero_idp.task_queue.CoalescedDrain).

A drain takes every pending mark there is, so in a login storm each web process queues
at most one per DRAIN_WINDOW seconds, with a countdown past the window; the marks are
rows, and beat drains every minute whatever happens here.
"""

from __future__ import annotations

from typing import Final

from axero_idp.task_queue import CoalescedDrain

DRAIN_WINDOW: Final = 0.8
DRAIN_COUNTDOWN: Final = 1.0

drain = CoalescedDrain(
    "personas.tasks.personas_pending_drain",
    window=DRAIN_WINDOW,
    countdown=DRAIN_COUNTDOWN,
    what="persona drain",
)


def drain_after_commit() -> None:
    """Ask a worker to drain the pending marks once the current transaction commits."""
    drain.after_commit()
