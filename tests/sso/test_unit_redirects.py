"""RelayState / next safety: only same-site relative paths."""

from __future__ import annotations

import pytest

from sso.redirects import safe_next


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://intranet.example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/spaces/new-hires/?tab=1", "/spaces/new-hires/?tab=1"),
        ("https://intranet.example.com/people/", "/people/"),
        ("https://INTRANET.example.com", "/"),
        ("https://evil.example.com/people/", "/api/v1/me/"),
        ("http://intranet.example.com/people/", "/api/v1/me/"),
        ("//evil.example.com/", "/api/v1/me/"),
        ("/\\evil.example.com", "/api/v1/me/"),
        ("javascript:alert(1)", "/api/v1/me/"),
        ("people/", "/api/v1/me/"),
        ("/ok\r\nSet-Cookie: x=1", "/api/v1/me/"),
        ("", "/api/v1/me/"),
        (None, "/api/v1/me/"),
        ("/" + "a" * 1000, "/api/v1/me/"),
    ],
)
def test_safe_next_allows_only_same_site_paths(value, expected):
    assert safe_next(value) == expected


def test_safe_next_uses_the_given_fallback():
    assert (
        safe_next("https://evil.example.com/", default="/sso/x/logged-out/") == "/sso/x/logged-out/"
    )


def test_default_landing_is_configurable(settings):
    settings.SSO_DEFAULT_NEXT = "/home/"
    assert safe_next(None) == "/home/"
