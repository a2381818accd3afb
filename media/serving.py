"""How a stored profile image goes to a browser: the file with its ETag, never sniffed
or run as anything but an image. The image API and the directory's photo URL share it."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponseNotModified
from django.http.response import HttpResponseBase

from axero_idp.errors import NotFound
from media.models import ProfileImage


def _not_modified(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates or "*" in candidates


def profile_image_response(request: HttpRequest, profile: ProfileImage) -> HttpResponseBase:
    """The stored image, with an ETag; 304 when the browser has it already."""
    etag = f'"{profile.sha256}"'
    response: HttpResponseBase
    if _not_modified(request, etag):
        response = HttpResponseNotModified()
    else:
        try:
            handle = default_storage.open(profile.storage_name, "rb")
        except FileNotFoundError as exc:
            raise NotFound("the profile image file is missing") from exc
        response = FileResponse(handle, content_type=profile.content_type)
    response["ETag"] = etag
    response["Cache-Control"] = "private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
