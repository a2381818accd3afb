"""The image pipeline's outbox (PendingPhotoFetch): marking and draining.

A photo URL set by SCIM or SAML is marked inside the directory's transaction (one
INSERT, committed or rolled back with the change), then a drain is queued after commit
on a best-effort basis; beat drains every minute too. So nothing depends on the broker
being up when the URL is set.

A drain claims one due row at a time (SELECT ... FOR UPDATE SKIP LOCKED: several
workers drain side by side, each fetching a photo no one else holds), fetches it, and
deletes the row in the same transaction that stores the image. A worker killed
mid-fetch rolls the claim back: the row is due again at once, for the redelivered task
or the next drain, and the image is stored exactly once (a file the killed worker
wrote before its commit is only disk space). Network trouble keeps the row and pushes
its not_before back (1, 2, 4, 8, 16 minutes); after MAX_ATTEMPTS the failure is
recorded on the image row, where the 24-hour catch-up finds it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from media.errors import ImageFetchUnavailable
from media.models import PendingPhotoFetch, ProfileImage
from media.queue import drain_after_commit, drain_enqueue
from media.services import photo_fetch_failure_record, photo_fetch_run
from users.services.actors import Actor
from users.services.audit import audit_record

logger = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5
BACKOFF_FIRST: Final = 60.0
BACKOFF_MAX: Final = 3600.0
# A drain fetches for at most this long, then queues another drain if more are due, so
# a burst of photo URLs does not hold one worker against everything else. Its task's
# time limit leaves room for one more fetch (IMAGE_FETCH_DEADLINE_SECONDS) after it.
RUN_BUDGET: Final = 30.0
# An admin's retry marks at most this many failed photos at once (the dashboard lists
# the last day's failures; a larger outage is the catch-up's job).
RETRY_LIMIT: Final = 1000


def photo_fetch_mark(*, user_id: uuid.UUID, url: str, origin: str = "") -> None:
    """Note that url is to be fetched for the user (called inside the transaction that
    set it, so the row commits with the change) and queue a drain after commit."""
    PendingPhotoFetch.objects.create(user_id=user_id, url=url, origin=origin)
    drain_after_commit()


@dataclass
class DrainResult:
    outcomes: dict[str, int] = field(default_factory=dict)
    more_due: bool = False

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def fetches(self) -> int:
        return sum(self.outcomes.values())


def _claim() -> PendingPhotoFetch | None:
    return (
        PendingPhotoFetch.objects.select_for_update(skip_locked=True)
        .filter(not_before__lte=timezone.now())
        .order_by("not_before", "pk")
        .first()
    )


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX))


def _retry_later(row: PendingPhotoFetch, reason: str) -> str:
    """Network trouble: try again after a backoff, or record the failure for good."""
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        photo_fetch_failure_record(user_id=row.user_id, url=row.url, reason=reason)
        row.delete()
        return "failed"
    row.not_before = timezone.now() + _backoff(row.attempts)
    row.save(update_fields=["attempts", "not_before"])
    logger.info("photo fetch for user %s: %s; retrying later", row.user_id, reason)
    return "retrying"


def _fetch_claimed(row: PendingPhotoFetch) -> str:
    try:
        outcome = photo_fetch_run(user_id=row.user_id, url=row.url, origin=row.origin)
    except ImageFetchUnavailable as exc:
        return _retry_later(row, exc.detail)
    row.delete()
    return outcome


def _give_up(row_id: int, user_id: uuid.UUID, url: str, exc: Exception) -> str:
    """A bug, not the network: record it and drop the row, or every drain would hit it
    again. Database outages are not bugs: those propagate and the row stays."""
    logger.error("photo fetch %s failed: %s", row_id, type(exc).__name__, exc_info=exc)
    with transaction.atomic():
        photo_fetch_failure_record(
            user_id=user_id, url=url, reason=f"internal error ({type(exc).__name__})"
        )
        PendingPhotoFetch.objects.filter(pk=row_id).delete()
    return "failed"


def _drain_one() -> str | None:
    """Claim, fetch and settle one due row; None when none is due (or all are held)."""
    claimed: tuple[int, uuid.UUID, str] | None = None
    try:
        with transaction.atomic():
            row = _claim()
            if row is None:
                return None
            claimed = (row.pk, row.user_id, row.url)
            return _fetch_claimed(row)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        if claimed is None:
            raise
        return _give_up(*claimed, exc)


def photo_fetches_drain(*, budget: float = RUN_BUDGET) -> DrainResult:
    """Fetch due photo URLs until none is due or the budget is spent; idempotent (a
    fetch run twice stores one image)."""
    result = DrainResult()
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        outcome = _drain_one()
        if outcome is None:
            return result
        result.count(outcome)
    result.more_due = PendingPhotoFetch.objects.filter(not_before__lte=timezone.now()).exists()
    if result.more_due:
        drain_enqueue(coalesce=False)
    return result


def photo_fetches_retry_failed(*, since: dt.datetime, actor: Actor) -> int:
    """An admin's "retry now" on the dashboard: every photo whose fetch failed since
    `since` goes back into the outbox (unless a fetch of it is already waiting) and a
    drain is queued after commit. Returns how many were marked; audited once."""
    waiting = PendingPhotoFetch.objects.filter(user_id=OuterRef("user_id"))
    failed = (
        ProfileImage.objects.filter(last_failure_at__gte=since)
        .exclude(last_failure_url="")
        .exclude(Exists(waiting))
        .values_list("user_id", "last_failure_url")
    )
    with transaction.atomic():
        rows = [
            # No origin: the image's source follows the person's (SCIM or SAML), as the
            # photo URL came from their identity provider, not from the admin.
            PendingPhotoFetch(user_id=user_id, url=url)
            for user_id, url in failed[:RETRY_LIMIT]
        ]
        PendingPhotoFetch.objects.bulk_create(rows)
        # Those and any fetch already waiting are drained now, not at beat's next run.
        drain_after_commit()
        audit_record(
            actor=actor,
            action="media.photo_fetches_retried",
            target_type="profileimage",
            target_id="",
            detail={"marked": len(rows), "failed_since": since.isoformat()},
        )
    return len(rows)
