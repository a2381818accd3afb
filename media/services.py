"""Every write of the image pipeline: store, remove, fetch a photo URL, record a failure.

The order that keeps the previous image safe: validate and re-encode first (a refusal
writes nothing), write the new file, flip the pointer row in a transaction (with its
audit record), and delete the old file only after that commit. A failure at any step
leaves the previous image and its file exactly as they were.
"""

from __future__ import annotations

import logging
import secrets
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from axero_idp.errors import NotFound, ValidationFailed
from media.fetching import Validators, image_download
from media.imaging import NormalisedImage, image_normalise
from media.models import ImageSource, ProfileImage
from media.selectors import profile_image_state
from users.models import ActorKind, Source, User
from users.selectors import user_get
from users.services import Actor, audit_record, user_image_recorded

logger = logging.getLogger(__name__)

FETCH_ACTOR = Actor.system("image fetch")


class PhotoUrlSuperseded(Exception):
    """The user's photo URL changed while this one was being fetched."""


def _user_directory(user_id: uuid.UUID | str) -> str:
    return f"profile-images/{uuid.UUID(str(user_id)).hex}"


def _storage_name(user_id: uuid.UUID) -> str:
    # A fresh random name for every write, never reused: a file is deleted only after
    # a commit moved the pointer away from it, and since no later write can point at
    # that name again, the pointer never names a deleted file (a content-addressed name
    # could be re-adopted by a concurrent write just before the deletion ran). One
    # directory per user, named by the id, so deleting one user's files never touches
    # another's.
    return f"{_user_directory(user_id)}/{secrets.token_hex(16)}"


def _file_write(user_id: uuid.UUID, image: NormalisedImage) -> str:
    """Write the image under a new unguessable name; the name it was stored under."""
    name = f"{_storage_name(user_id)}.{image.extension}"
    return default_storage.save(name, ContentFile(image.data))


def _file_delete_on_commit(name: str) -> None:
    def delete() -> None:
        try:
            default_storage.delete(name)
        except OSError:
            # The pointer has moved on; a leftover file is only disk space.
            logger.warning("could not delete replaced profile image file %s", name)

    transaction.on_commit(delete)


def _audit_detail(profile: ProfileImage) -> dict[str, object]:
    return {
        "source": profile.source,
        "source_url": profile.source_url,
        "content_type": profile.content_type,
        "width": profile.width,
        "height": profile.height,
        "byte_size": profile.byte_size,
        "sha256": profile.sha256,
    }


def profile_image_store(
    *,
    user: User,
    data: bytes,
    source: ImageSource | str,
    actor: Actor,
    source_url: str = "",
    fetched_url: str | None = None,
    validators: Validators | None = None,
) -> ProfileImage:
    """Validate, normalise and store bytes as the user's profile image.

    fetched_url: the photo URL a fetch downloaded; the image is stored only if it is
    still the user's photo URL. A manual image (fetched_url None) supersedes the
    current photo URL until the identity provider sends a different one. validators:
    what the server said about the bytes, for the next conditional fetch.
    """
    image = image_normalise(data)
    name = _file_write(user.pk, image)
    try:
        return _pointer_flip(
            user=user,
            image=image,
            name=name,
            source=str(source),
            actor=actor,
            source_url=source_url,
            fetched_url=fetched_url,
            validators=validators or Validators(),
        )
    except BaseException:
        default_storage.delete(name)  # nothing points at it
        raise


def _already_stored(
    profile: ProfileImage, fetched_url: str, image: NormalisedImage, validators: Validators
) -> bool:
    """Is the image fetched from fetched_url the stored one already? Then only the
    fetch bookkeeping changes. Raises PhotoUrlSuperseded when someone uploaded or
    removed an image by hand while the URL was downloading (which marks the URL
    handled, with no source URL): that later, deliberate change wins."""
    if profile.photo_url_handled != fetched_url:
        return False
    if profile.source_url != fetched_url:
        raise PhotoUrlSuperseded
    if not (profile.has_image and profile.sha256 == image.sha256):
        return False
    # Fetched again (no validators, or the server ignored them): the same image.
    _fetch_checked(profile, validators)
    return True


def _user_locked(user_id: uuid.UUID, fetched_url: str | None) -> User:
    """The user under a row lock, which serialises every image write of this user;
    PhotoUrlSuperseded when a fetched URL is no longer theirs."""
    locked = User.objects.select_for_update().filter(pk=user_id).first()
    if locked is None:
        raise NotFound("user not found")
    if fetched_url is not None and locked.photo_url != fetched_url:
        raise PhotoUrlSuperseded
    return locked


def _image_point_at(
    profile: ProfileImage, *, image: NormalisedImage, name: str, source: str, source_url: str
) -> None:
    profile.storage_name = name
    profile.content_type = image.content_type
    profile.width, profile.height = image.width, image.height
    profile.byte_size = len(image.data)
    profile.sha256 = image.sha256
    profile.source = source
    profile.source_url = source_url
    profile.updated_at = timezone.now()


def _fetch_bookkeeping(
    profile: ProfileImage, *, photo_url: str, fetched_url: str | None, validators: Validators
) -> None:
    """A fetched image handles its URL and clears the last failure; a manual one
    supersedes the user's current photo URL and has nothing to re-check."""
    fetched = fetched_url is not None
    profile.photo_url_handled = fetched_url if fetched_url is not None else photo_url
    if fetched:
        profile.last_failure_at = None
        profile.last_failure_reason = profile.last_failure_url = ""
    profile.fetch_etag, profile.fetch_last_modified = validators.etag, validators.last_modified
    profile.fetch_checked_at = timezone.now() if fetched else None


@transaction.atomic
def _pointer_flip(
    *,
    user: User,
    image: NormalisedImage,
    name: str,
    source: str,
    actor: Actor,
    source_url: str,
    fetched_url: str | None,
    validators: Validators,
) -> ProfileImage:
    locked = _user_locked(user.pk, fetched_url)
    profile, _ = ProfileImage.objects.get_or_create(user=locked)
    if fetched_url is not None and _already_stored(profile, fetched_url, image, validators):
        _file_delete_on_commit(name)  # the new copy of the same image
        return profile
    old_name = profile.storage_name
    _image_point_at(profile, image=image, name=name, source=source, source_url=source_url)
    _fetch_bookkeeping(
        profile, photo_url=locked.photo_url, fetched_url=fetched_url, validators=validators
    )
    profile.save()
    audit_record(actor=actor, action="image.updated", target=locked, detail=_audit_detail(profile))
    user_image_recorded(user=locked, version=profile.version)
    if old_name and old_name != name:
        _file_delete_on_commit(old_name)
    return profile


@transaction.atomic
def profile_image_remove(*, user: User, actor: Actor) -> None:
    """Remove the user's stored image (NotFound when there is none).

    The current photo URL counts as handled: the image comes back only when the
    identity provider sends a different photo URL or someone uploads one.
    """
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    profile = ProfileImage.objects.filter(user_id=user.pk).first()
    if locked is None or profile is None or not profile.has_image:
        raise NotFound("the user has no profile image")
    removed = _audit_detail(profile)
    _file_delete_on_commit(profile.storage_name)
    profile.storage_name = profile.content_type = profile.sha256 = ""
    profile.width = profile.height = profile.byte_size = 0
    profile.source = profile.source_url = ""
    profile.updated_at = timezone.now()
    profile.photo_url_handled = locked.photo_url
    profile.save()
    audit_record(actor=actor, action="image.removed", target=locked, detail=removed)
    user_image_recorded(user=locked, version=None)


def _fetch_source(origin: str, user: User) -> ImageSource:
    kind = origin or {Source.SAML: ActorKind.IDP, Source.SCIM: ActorKind.SCIM}.get(
        Source(user.source), ""
    )
    if kind == ActorKind.IDP:
        return ImageSource.SAML
    if kind == ActorKind.SCIM:
        return ImageSource.SCIM
    return ImageSource.ADMIN


def _fetch_checked(profile: ProfileImage, validators: Validators) -> None:
    profile.fetch_etag, profile.fetch_last_modified = validators.etag, validators.last_modified
    profile.fetch_checked_at = timezone.now()
    profile.last_failure_at = None
    profile.last_failure_reason = profile.last_failure_url = ""
    profile.save(
        update_fields=[
            "fetch_etag",
            "fetch_last_modified",
            "fetch_checked_at",
            "last_failure_at",
            "last_failure_reason",
            "last_failure_url",
        ]
    )


@transaction.atomic
def photo_fetch_unchanged_record(
    *, user_id: uuid.UUID | str, url: str, validators: Validators
) -> bool:
    """The server answered 304 for url: the stored image stays; remember the check.
    False when url is no longer the one the stored image came from."""
    locked = User.objects.select_for_update().filter(pk=user_id).first()
    profile = ProfileImage.objects.filter(user_id=user_id).first()
    if locked is None or profile is None or locked.photo_url != url or profile.source_url != url:
        return False
    _fetch_checked(profile, validators)
    return True


def _validators_for(profile: ProfileImage | None, url: str) -> Validators | None:
    """The validators of the image fetched from url, if that is the stored image."""
    if profile is None or not profile.has_image or profile.source_url != url:
        return None
    if not (profile.fetch_etag or profile.fetch_last_modified):
        return None
    return Validators(profile.fetch_etag, profile.fetch_last_modified)


def _fetch_skipped(user: User, url: str) -> tuple[str | None, ProfileImage | None]:
    """Why there is nothing to fetch (see photo_fetch_run), or None; and the image row."""
    if user.photo_url != url:
        return "superseded", None
    profile = profile_image_state(user.pk)
    if profile is not None and profile.photo_url_handled == url and profile.source_url != url:
        return "already", profile
    return None, profile


def _download_and_store(user: User, url: str, origin: str, profile: ProfileImage | None) -> str:
    downloaded = image_download(url, _validators_for(profile, url))
    if downloaded.data is None:
        recorded = photo_fetch_unchanged_record(
            user_id=user.pk, url=url, validators=downloaded.validators
        )
        return "unchanged" if recorded else "superseded"
    profile_image_store(
        user=user,
        data=downloaded.data,
        source=_fetch_source(origin, user),
        actor=FETCH_ACTOR,
        source_url=url,
        fetched_url=url,
        validators=downloaded.validators,
    )
    logger.info("profile image fetched for user %s", user.pk)
    return "stored"


def photo_fetch_run(*, user_id: uuid.UUID | str, url: str, origin: str = "") -> str:
    """Fetch the user's photo URL (conditionally, when it is the stored image's) and
    store what changed; idempotent.

    Returns "stored", "unchanged" (a 304), "refused" (recorded as the last failure),
    "already" (a manual upload or removal superseded this URL), "superseded" (no
    longer the user's photo URL) or "no_user". Raises ImageFetchUnavailable on network
    trouble, for the caller to retry.
    """
    user = user_get(user_id)
    if user is None:
        return "no_user"
    skipped, profile = _fetch_skipped(user, url)
    if skipped is not None:
        return skipped
    try:
        return _download_and_store(user, url, origin, profile)
    except PhotoUrlSuperseded:
        return "superseded"
    except NotFound:
        return "no_user"  # deleted while the photo was downloading
    except ValidationFailed as exc:
        # SSRF refusals, 4xx answers, too large, not an image: asking again won't help.
        photo_fetch_failure_record(user_id=user.pk, url=url, reason=exc.detail)
        return "refused"


@transaction.atomic
def photo_fetch_failure_record(*, user_id: uuid.UUID | str, url: str, reason: str) -> bool:
    """Remember why fetching url failed (the stored image stays); False if the URL is
    no longer the user's."""
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None or user.photo_url != url:
        return False
    profile, _ = ProfileImage.objects.get_or_create(user=user)
    profile.last_failure_at = timezone.now()
    profile.last_failure_reason = reason[:500]
    profile.last_failure_url = url
    profile.save(update_fields=["last_failure_at", "last_failure_reason", "last_failure_url"])
    audit_record(
        actor=FETCH_ACTOR,
        action="image.fetch_failed",
        target=user,
        detail={"url": url, "reason": reason},
    )
    # The URL may name the person: the log carries the user id and the reason only.
    logger.warning("profile image fetch failed for user %s: %s", user.pk, reason)
    return True


def photo_fetch_catch_up_record(queued: list[tuple[uuid.UUID, str]]) -> None:
    """Remember which (user, photo URL) the catch-up job just queued: three queries
    for the whole batch. Only the two bookkeeping columns are written, so a concurrent
    image write loses nothing."""
    if not queued:
        return
    urls = dict(queued)
    ProfileImage.objects.bulk_create(
        [ProfileImage(user_id=user_id) for user_id in urls], ignore_conflicts=True
    )
    now = timezone.now()
    rows = list(ProfileImage.objects.filter(user_id__in=urls).only("pk"))
    for row in rows:
        row.catch_up_queued_url = urls[row.pk]
        row.catch_up_queued_at = now
    ProfileImage.objects.bulk_update(rows, ["catch_up_queued_url", "catch_up_queued_at"])


def photo_refresh_queued_record(user_ids: list[uuid.UUID]) -> None:
    """Count a queued re-check as this period's check (one statement), so a photo
    whose server is down is not queued again by every run until it answers."""
    if user_ids:
        ProfileImage.objects.filter(user_id__in=user_ids).update(fetch_checked_at=timezone.now())


def profile_image_files_purge(*, user_id: uuid.UUID) -> int:
    """Delete every stored file of a deleted user (the row went with the user)."""
    directory = _user_directory(user_id)
    try:
        _dirs, files = default_storage.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in files:
        default_storage.delete(f"{directory}/{name}")
    logger.info("deleted %s profile image file(s) of deleted user %s", len(files), user_id)
    return len(files)
