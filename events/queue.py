"""Ask for delivery after commit (axero_idp.task_queue.CoalescedDrain).

One dispatch stamps every committed event and queues a delivery for each endpoint with
something to send, so one dispatch serves every commit before it runs: each web process
queues at most one per DISPATCH_WINDOW seconds. The outbox rows are the truth: beat
dispatches every minute whatever happens here.
"""

from __future__ import annotations

from typing import Final

from axero_idp.task_queue import CoalescedDrain

DISPATCH_WINDOW: Final = 0.5
DISPATCH_COUNTDOWN: Final = 0.6

dispatch = CoalescedDrain(
    "events.tasks.events_dispatch",
    window=DISPATCH_WINDOW,
    countdown=DISPATCH_COUNTDOWN,
    what="event dispatch",
)


def dispatch_after_commit() -> None:
    """Ask a worker to deliver new events once the current transaction commits."""
    dispatch.after_commit()
