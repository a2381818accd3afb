"""Listeners for the directory's domain events (subscribed in MediaConfig.ready())."""

from __future__ import annotations

from media.selectors import photo_url_handled
from media.services import photo_fetch_enqueue, profile_image_files_purge
from users.events import Event, PhotoUrlSet, UserDeleted


def photo_url_set_handle(event: Event) -> None:
    """A photo URL was set or changed (delivered after commit): queue its fetch."""
    if not isinstance(event, PhotoUrlSet):
        return
    if photo_url_handled(user_id=event.user_id, url=event.url):
        return  # this URL is already the stored image (or was superseded by an upload)
    photo_fetch_enqueue(user_id=event.user_id, url=event.url, origin=event.origin)


def user_deleted_handle(event: Event) -> None:
    """A user was deleted for good (delivered after commit): their image files go too."""
    if isinstance(event, UserDeleted):
        profile_image_files_purge(user_id=event.user_id)
