"""Queue the drain task after commit, never failing the caller when the broker is down."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def _enqueue_drain() -> None:
    from personas.tasks import personas_pending_drain

    try:
        personas_pending_drain.delay()
    except Exception:
        # The marks are in the database already; the every-minute beat run drains them.
        logger.warning("could not queue the persona drain; beat will pick it up", exc_info=True)


def drain_after_commit() -> None:
    """Ask a worker to drain the pending marks once the current transaction commits."""
    transaction.on_commit(_enqueue_drain)
