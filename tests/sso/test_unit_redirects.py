"""RelayState / next safety: only same-site relative paths."""

from __future__ import annotations

import pytest

from sso.redirects import safe_next


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://intranet.example.com"
    settings.SSO_DEFAULT_NEXT = "/landing/"


def test_a_login_lands_on_the_home_page_by_default():
    from axero_idp import settings as defaults

    assert defaults.SSO_DEFAULT_NEXT == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/spaces/new-hires/?tab=1", "/spaces/new-hires/?tab=1"),
        ("https://intranet.example.com/people/", "/people/"),
        ("https://INTRANET.example.com", "/"),
        ("https://evil.example.com/people/", "/landing/"),
        ("http://intranet.example.com/people/", "/landing/"),
        ("//evil.example.com/", "/landing/"),
        ("/\\evil.example.com", "/landing/"),
        ("javascript:alert(1)", "/landing/"),
        ("people/", "/landing/"),
        ("/ok\r\nSet-Cookie: x=1", "/landing/"),
        ("", "/landing/"),
        (None, "/landing/"),
        ("/" + "a" * 1000, "/landing/"),
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
