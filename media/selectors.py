"""Reads of the image pipeline."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from media.models import PendingPhotoFetch, ProfileImage
from users.models import User


def profile_image_for(user_id: uuid.UUID) -> ProfileImage | None:
    """The user's stored image, or None when there is none."""
    return ProfileImage.objects.filter(user_id=user_id).exclude(storage_name="").first()


def profile_image_state(user_id: uuid.UUID) -> ProfileImage | None:
    """The user's image row, with or without an image (it also keeps the last failure)."""
    return ProfileImage.objects.filter(user_id=user_id).first()


def photo_url_handled(*, user_id: uuid.UUID, url: str) -> bool:
    """True when this photo URL was already fetched (or superseded by a manual upload)."""
    return ProfileImage.objects.filter(user_id=user_id, photo_url_handled=url).exists()


def users_awaiting_photo_fetch(
    *,
    limit: int,
    failure_retry_after: dt.timedelta,
    requeue_after: dt.timedelta = dt.timedelta(hours=1),
) -> list[tuple[uuid.UUID, str]]:
    """(user id, photo URL) of users whose current photo URL was never handled, is not
    waiting in the outbox, did not fail recently and was not queued by the catch-up
    job recently: one query, whatever the directory's size."""
    now = timezone.now()
    cutoff = now - failure_retry_after
    handled = ProfileImage.objects.filter(
        user_id=OuterRef("pk"), photo_url_handled=OuterRef("photo_url")
    )
    failed_recently = ProfileImage.objects.filter(
        user_id=OuterRef("pk"), last_failure_url=OuterRef("photo_url"), last_failure_at__gte=cutoff
    )
    queued_recently = ProfileImage.objects.filter(
        user_id=OuterRef("pk"),
        catch_up_queued_url=OuterRef("photo_url"),
        catch_up_queued_at__gte=now - requeue_after,
    )
    in_outbox = PendingPhotoFetch.objects.filter(user_id=OuterRef("pk"), url=OuterRef("photo_url"))
    rows = (
        User.objects.exclude(photo_url="")
        .exclude(Exists(handled))
        .exclude(Exists(in_outbox))
        .exclude(Exists(failed_recently))
        .exclude(Exists(queued_recently))
        .order_by("updated_at", "pk")
        .values_list("pk", "photo_url")[:limit]
    )
    return list(rows)


def users_due_photo_refresh(
    *, limit: int, checked_before: dt.datetime
) -> list[tuple[uuid.UUID, str]]:
    """(user id, photo URL) of users whose stored image came from their current photo
    URL and was last checked before `checked_before`, the least recently checked
    first: one query, bounded by `limit`."""
    rows = (
        ProfileImage.objects.exclude(storage_name="")
        .filter(user__photo_url=F("source_url"), photo_url_handled=F("source_url"))
        .filter(Q(fetch_checked_at__isnull=True) | Q(fetch_checked_at__lt=checked_before))
        .order_by(F("fetch_checked_at").asc(nulls_first=True), "pk")
        .values_list("user_id", "source_url")[:limit]
    )
    return list(rows)


def directory_photo_for(user_id: uuid.UUID) -> ProfileImage | None:
    """The stored image of an active person (what the employee pages show), or None."""
    return (
        ProfileImage.objects.filter(user_id=user_id, user__is_active=True)
        .exclude(storage_name="")
        .first()
    )
