"""Listeners for the directory's domain events (subscribed in MediaConfig.ready())."""

from __future__ import annotations

from media.pending import photo_fetch_mark
from media.services import profile_image_files_purge
from users.events import Event, PhotoUrlSet, UserDeleted


def photo_url_set_mark(event: Event) -> None:
    """A photo URL was set or changed (inside the directory's transaction): its fetch
    goes into the outbox with the change. No query here, in the SCIM or SAML request:
    the drain itself skips a URL already handled (stored, or superseded by a manual
    upload)."""
    if isinstance(event, PhotoUrlSet):
        photo_fetch_mark(user_id=event.user_id, url=event.url, origin=event.origin)


def user_deleted_handle(event: Event) -> None:
    """A user was deleted for good (delivered after commit): their image files go too."""
    if isinstance(event, UserDeleted):
        profile_image_files_purge(user_id=event.user_id)
