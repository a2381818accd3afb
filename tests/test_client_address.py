"""The client's address behind trusted proxies (axero_idp.client_address)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from axero_idp.client_address import client_address


def _request(xff: str | None = None, remote: str = "10.0.0.5"):
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says(settings):
    settings.TRUSTED_PROXY_HOPS = 0

    assert client_address(_request("203.0.113.7")) == "10.0.0.5"


@pytest.mark.parametrize(
    ("hops", "xff", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        # A client that forges its own header: only the proxy's append is believed.
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.1, 203.0.113.7, 10.1.1.1", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.5"),  # fewer entries than proxies: not through them
        (1, "not-an-address", "10.0.0.5"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_trusted_proxies_name_the_client_from_the_right(settings, hops, xff, expected):
    settings.TRUSTED_PROXY_HOPS = hops

    assert client_address(_request(xff)) == expected
