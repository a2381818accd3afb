"""axero_idp.request_limits: one body ceiling for every URL, before anything reads it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_declared_body_over_the_ceiling_is_refused_before_csrf_parses_it(client, settings):
    settings.REQUEST_MAX_BODY_BYTES = 1000

    response = client.post(
        "/admin/login/", data=b"x" * 10, content_type="text/plain", CONTENT_LENGTH="1001"
    )

    assert response.status_code == 413
    assert response.json() == {
        "error": "request_too_large",
        "detail": "the request body is larger than 1000 bytes",
    }


def test_a_body_within_the_ceiling_reaches_the_view(client, settings):
    settings.REQUEST_MAX_BODY_BYTES = 1000

    response = client.post("/admin/login/", data={"username": "a", "password": "b"})

    assert response.status_code == 200  # the login form answered: the body got through
    assert b"Please enter the correct username and password" in response.content


def test_a_garbled_content_length_is_a_400(client):
    response = client.post(
        "/admin/login/", data=b"", content_type="text/plain", CONTENT_LENGTH="12abc"
    )

    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "detail": "Content-Length is not a number"}


def test_the_ceiling_never_undercuts_the_scim_cap():
    from django.conf import settings

    assert settings.REQUEST_MAX_BODY_BYTES > settings.SCIM_MAX_BODY_BYTES
