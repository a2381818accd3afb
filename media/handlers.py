"""Listeners for the directory's domain events (subscribed in MediaConfig.ready())."""

from __future__ import annotations

from media.services import photo_fetch_enqueue, profile_image_files_purge
from users.events import Event, PhotoUrlSet, UserDeleted


def photo_url_set_handle(event: Event) -> None:
    """A photo URL was set or changed (delivered after commit): queue its fetch. No
    query here, in the SCIM or SAML request: the task itself skips a URL already
    handled (stored, or superseded by a manual upload)."""
    if not isinstance(event, PhotoUrlSet):
        return
    photo_fetch_enqueue(user_id=event.user_id, url=event.url, origin=event.origin)


def user_deleted_handle(event: Event) -> None:
    """A user was deleted for good (delivered after commit): their image files go too."""
    if isinstance(event, UserDeleted):
        profile_image_files_purge(user_id=event.user_id)
