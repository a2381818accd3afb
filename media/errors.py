"""Why an image was refused, as application errors (rendered as {"error", "detail"})."""

from __future__ import annotations

from axero_idp.errors import ApplicationError, ValidationFailed


class ImageRefused(ValidationFailed):
    """The bytes are not an acceptable profile image (final: retrying will not help)."""

    code = "invalid_image"


class ImageTooLarge(ImageRefused):
    code = "too_large"
    http_status = 413


class ImageUnsupported(ImageRefused):
    code = "unsupported_media_type"
    http_status = 415


class ImageFetchUnavailable(ApplicationError):
    """The photo host could not be reached or answered 5xx: the task retries later."""

    code = "fetch_unavailable"
    http_status = 502
