"""Downloading a photo URL from an identity provider, SSRF-safe (axero_idp.safe_fetch).

Policy: http or https; ports 80 and 443 only (a photo host has no business on other
ports, and this keeps the fetcher from probing services on public hosts); every
resolved address public unless IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS; at most 3
redirects, each hop checked again; the body capped at 5 MB while streaming; a connect
timeout, a read timeout and a total deadline.
"""

from __future__ import annotations

from django.conf import settings

from axero_idp.safe_fetch import FetchFailed, FetchPolicy, FetchTooLarge, safe_fetch
from media.errors import ImageFetchUnavailable, ImageTooLarge
from media.imaging import MAX_BYTES, TOO_LARGE

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
DEADLINE = 30.0


def image_fetch_policy() -> FetchPolicy:
    return FetchPolicy(
        label="image URL",
        allow_private=bool(getattr(settings, "IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS", False)),
        schemes=frozenset({"http", "https"}),
        ports=frozenset({80, 443}),
        max_bytes=MAX_BYTES,
        max_redirects=MAX_REDIRECTS,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        deadline=DEADLINE,
        accept="image/jpeg, image/png, image/gif",
    )


def image_download(url: str) -> bytes:
    """The bytes at url. FetchRefused (final), ImageTooLarge (final) or
    ImageFetchUnavailable (network trouble: retry later)."""
    try:
        return safe_fetch(url, image_fetch_policy()).body
    except FetchTooLarge as exc:
        raise ImageTooLarge(TOO_LARGE) from exc
    except FetchFailed as exc:
        raise ImageFetchUnavailable(exc.detail) from exc
