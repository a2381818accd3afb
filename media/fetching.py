"""Downloading a photo URL from an identity provider, SSRF-safe (axero_idp.safe_fetch).

Policy: http or https; ports 80 and 443 only (a photo host has no business on other
ports, and this keeps the fetcher from probing services on public hosts); every
resolved address public unless IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS; at most 3
redirects, each hop checked again; the body capped at 5 MB while streaming; a connect
timeout, a read timeout and a total deadline (IMAGE_FETCH_DEADLINE_SECONDS): a server
that trickles bytes holds a worker no longer than that.

A fetch is conditional when the last successful fetch of the same URL left an ETag or
a Last-Modified: an unchanged photo then costs a 304 and no body.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from axero_idp.safe_fetch import FetchFailed, FetchPolicy, FetchTooLarge, safe_fetch
from media.errors import ImageFetchUnavailable, ImageTooLarge
from media.imaging import MAX_BYTES, TOO_LARGE

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Validators:
    """What the server said about the photo it last sent (RFC 9110 §8.8)."""

    etag: str = ""
    last_modified: str = ""

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Downloaded:
    """The photo's bytes (None: unchanged since the validators sent) and the new validators."""

    data: bytes | None
    validators: Validators


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
        deadline=float(settings.IMAGE_FETCH_DEADLINE_SECONDS),
        accept="image/jpeg, image/png, image/gif",
    )


def image_download(url: str, validators: Validators | None = None) -> Downloaded:
    """The bytes at url, or None in `data` when the validators say it has not changed.
    FetchRefused (final), ImageTooLarge (final) or ImageFetchUnavailable (network
    trouble: retry later)."""
    headers = validators.request_headers() if validators else {}
    try:
        fetched = safe_fetch(url, image_fetch_policy(), headers=headers)
    except FetchTooLarge as exc:
        raise ImageTooLarge(TOO_LARGE) from exc
    except FetchFailed as exc:
        raise ImageFetchUnavailable(exc.detail) from exc
    if fetched.status == 304:
        # A 304 may update the validators; those it leaves out stay as they were.
        assert validators is not None
        return Downloaded(
            None,
            Validators(
                fetched.etag or validators.etag, fetched.last_modified or validators.last_modified
            ),
        )
    return Downloaded(fetched.body, Validators(fetched.etag, fetched.last_modified))
