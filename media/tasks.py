"""Celery tasks of the image pipeline: thin, idempotent, retried on network errors only."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from celery import shared_task
from django.utils import timezone

from media import pending
from media.errors import ImageFetchUnavailable
from media.queue import photo_fetch_enqueue
from media.selectors import users_awaiting_photo_fetch, users_due_photo_refresh
from media.services import (
    photo_fetch_catch_up_record,
    photo_fetch_failure_record,
    photo_fetch_run,
    photo_refresh_queued_record,
)

logger = logging.getLogger(__name__)

CATCH_UP_BATCH = 500
# A failed URL is tried again by the catch-up job after this long (an IdP may fix it).
FAILURE_RETRY_AFTER = dt.timedelta(hours=24)
# A URL the catch-up job queued is not queued again before this (longer than the
# retries' backoff, 1+2+4+8+16 minutes, plus their deadlines).
REQUEUE_AFTER = dt.timedelta(hours=1)
# Stored photos are re-checked (a conditional GET: a 304 when unchanged) about this
# often, at most REFRESH_BATCH per run (beat runs it hourly).
REFRESH_EVERY = dt.timedelta(days=1)
REFRESH_BATCH = 500


@shared_task(bind=True, acks_late=True, max_retries=5, time_limit=90, soft_time_limit=75)
def photo_fetch(self: Any, user_id: str, url: str, origin: str = "") -> str:
    """Fetch a user's photo URL and store the image (no-op when already handled or
    superseded); network trouble retries with exponential backoff."""
    try:
        return photo_fetch_run(user_id=user_id, url=url, origin=origin)
    except ImageFetchUnavailable as exc:
        # In-process (eager) runs serve a web request: no sleeping retries there, the
        # failure is recorded and the catch-up job tries again later.
        if self.request.is_eager or self.request.retries >= self.max_retries:
            photo_fetch_failure_record(user_id=user_id, url=url, reason=exc.detail)
            return "failed"
        countdown = min(60 * 2**self.request.retries, 3600)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        # A bug, not the network: no retry, but recorded, or the catch-up job would
        # queue (and download) this URL again every 15 minutes forever.
        photo_fetch_failure_record(
            user_id=user_id, url=url, reason=f"internal error ({type(exc).__name__})"
        )
        raise


@shared_task(acks_late=True, time_limit=90, soft_time_limit=80)
def photo_fetches_drain() -> int:
    """Fetch the photo URLs waiting in the outbox (queued after commits; every minute
    from beat, the catch-up when the broker was down or a worker died)."""
    return pending.photo_fetches_drain().fetches


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def photo_fetch_catch_up() -> int:
    """Queue fetches for photo URLs never handled (a broker outage at enqueue time, a
    lost task) and for failures old enough to try again (Celery beat, every 15 min)."""
    pending = users_awaiting_photo_fetch(
        limit=CATCH_UP_BATCH, failure_retry_after=FAILURE_RETRY_AFTER, requeue_after=REQUEUE_AFTER
    )
    queued: list[tuple[uuid.UUID, str]] = []
    for user_id, url in pending:
        if not photo_fetch_enqueue(user_id=user_id, url=url):
            break  # the broker is still down: the next run tries again
        queued.append((user_id, url))
    # Without this, a task still waiting in the queue or retrying with backoff (up to
    # ~31 minutes) would be queued again by every run meanwhile.
    photo_fetch_catch_up_record(queued)
    if pending:
        logger.info("photo fetch catch-up queued %s of %s", len(queued), len(pending))
    return len(queued)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def photo_refresh_due() -> int:
    """Queue a conditional re-fetch of stored photos not checked for REFRESH_EVERY
    (IdPs replace photos behind stable URLs); at most REFRESH_BATCH per run."""
    due = users_due_photo_refresh(
        limit=REFRESH_BATCH, checked_before=timezone.now() - REFRESH_EVERY
    )
    queued: list[uuid.UUID] = []
    for user_id, url in due:
        if not photo_fetch_enqueue(user_id=user_id, url=url):
            break  # the broker is down: the next run tries again
        queued.append(user_id)
    photo_refresh_queued_record(queued)
    if due:
        logger.info("photo refresh queued %s of %s", len(queued), len(due))
    return len(queued)
