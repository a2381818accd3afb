"""Where a browser may be sent after login or logout: only our own relative paths."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme

MAX_NEXT_LENGTH: Final = 1000


def default_landing() -> str:
    """Where a login lands when no (safe) next path was given: the home page (/)."""
    return str(settings.SSO_DEFAULT_NEXT)


def safe_next(value: str | None, *, default: str | None = None) -> str:
    """value if it is a same-site relative path (an absolute URL on SITE_URL is reduced
    to its path), else the default landing. Never an open redirect."""
    fallback = default or default_landing()
    value = _safe(value)
    return value if value is not None else fallback


def _safe(value: str | None) -> str | None:
    if not value or len(value) > MAX_NEXT_LENGTH or _has_unsafe_characters(value):
        return None
    value = _same_site_path(value)
    if value is None or not value.startswith("/") or value.startswith("//"):
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=set(), require_https=False):
        return None
    return value


def _has_unsafe_characters(value: str) -> bool:
    # Control characters and backslashes: browsers read "/\\evil" as "//evil".
    return "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)


def _same_site_path(value: str) -> str | None:
    """A relative value as it is; an absolute URL on SITE_URL as its path and query;
    anything else None."""
    parts = urlsplit(value)
    if not (parts.scheme or parts.netloc):
        return value
    site = urlsplit(settings.SITE_URL)
    if (parts.scheme.lower(), parts.netloc.lower()) != (site.scheme, site.netloc.lower()):
        return None
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path
