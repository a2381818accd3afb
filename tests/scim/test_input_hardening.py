"""Input the outside review broke the SCIM server with (issue 8, findings 15 and 16):
lone surrogates that crashed rendering and the request log, and a quadratic list PATCH."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import QueryDict

from scim.models import ScimRequestLog
from scim.requestlog import request_log_write
from scim.views.resources import UsersView
from tests.factories import UserFactory
from tests.scim.conftest import PATCH_OP, error
from users.models import User

pytestmark = pytest.mark.django_db

SURROGATE_DETAIL = (
    "Text values cannot contain a lone UTF-16 surrogate (\\ud800); "
    "send the character as one escaped pair or as UTF-8."
)


def _patch_body(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


# ---- finding 16: lone surrogates ------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"userName": "a\\ud800b"}',
        '{"userName": "ab@x.io", "name": {"givenName": "\\ud800"}}',
        '{"userName": "ab@x.io", "\\ud800": 1}',
    ],
    ids=["value", "nested-value", "key"],
)
def test_a_lone_surrogate_in_a_body_is_invalid_value_and_logged(scim, raw):
    response = scim.post("/Users", raw=raw)

    assert response.status_code == 400
    assert response.json() == error(400, SURROGATE_DETAIL, "invalidValue")
    assert not User.objects.exists()
    entry = ScimRequestLog.objects.get()
    assert (entry.status, entry.scim_type) == (400, "invalidValue")
    assert "\ufffd" in entry.request_body


def test_a_lone_surrogate_in_a_patch_value_and_path_is_invalid_value(scim):
    user = UserFactory()
    in_value = _patch_body({"op": "replace", "path": "title", "value": "\ud800"})
    in_path = _patch_body(
        {"op": "replace", "path": 'emails[value eq "\ud800"].value', "value": "x"}
    )

    responses = [scim.patch(f"/Users/{user.pk}", body) for body in (in_value, in_path)]

    assert [r.json() for r in responses] == [error(400, SURROGATE_DETAIL, "invalidValue")] * 2
    assert ScimRequestLog.objects.filter(status=400).count() == 2


def test_an_escaped_surrogate_inside_a_patch_path_filter_is_invalid_path(scim):
    # The JSON is clean; the path's own string literal decodes "\ud800" to a surrogate.
    user = UserFactory()
    body = _patch_body(
        {"op": "replace", "path": 'emails[value eq "\\ud800"].value', "value": "x@y.io"}
    )

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.json() == error(
        400, "string at position 16 contains a lone surrogate (\\ud800)", "invalidPath"
    )


def test_an_escaped_surrogate_in_a_filter_query_is_invalid_filter(scim):
    response = scim.get("/Users?filter=userName%20eq%20%22%5Cud800%22")

    assert response.json() == error(
        400, "string at position 12 contains a lone surrogate (\\ud800)", "invalidFilter"
    )
    assert ScimRequestLog.objects.get().scim_type == "invalidFilter"


def test_an_escaped_surrogate_in_a_search_body_filter_is_invalid_filter(scim):
    response = scim.post("/Users/.search", {"filter": 'userName eq "\\udfff"'})

    assert response.json() == error(
        400, "string at position 12 contains a lone surrogate (\\udfff)", "invalidFilter"
    )


@pytest.mark.parametrize(
    ("query", "scim_type"),
    [("filter", "invalidFilter"), ("attributes", "invalidValue"), ("sortBy", "invalidValue")],
)
def test_a_lone_surrogate_in_a_query_parameter_is_refused(scim, rf, query, scim_type):
    # Django decodes a query string off the wire with replacement characters; a
    # surrogate can still reach the view from an in-process caller, never as a 500.
    request = rf.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}")
    request.GET = QueryDict(mutable=True)
    request.GET[query] = "userName\ud800"

    response = UsersView.as_view()(request)

    assert response.status_code == 400
    assert json.loads(response.content)["scimType"] == scim_type
    assert ScimRequestLog.objects.get().status == 400


def test_the_request_log_writer_stores_surrogates_as_replacement_characters():
    request_log_write(
        token_name="t\ud800",
        method="GET",
        path="/scim/v2/Users/\udc00",
        status=404,
        duration_ms=1,
        error_detail="User \udc00 not found.",
        body=b'{"userName": "\\ud800"}',
        request_id="r\ud800",
    )

    entry = ScimRequestLog.objects.get()
    assert (entry.token_name, entry.path, entry.error_detail, entry.request_body) == (
        "t\ufffd",
        "/scim/v2/Users/\ufffd",
        "User \ufffd not found.",
        '{"userName": "\ufffd"}',
    )


def test_the_request_log_writer_never_raises(monkeypatch, caplog):
    def broken(raw: bytes) -> str:
        raise RuntimeError("a bug in redaction")

    monkeypatch.setattr("scim.requestlog.redact_body", broken)

    request_log_write(token_name="t", method="GET", path="/", status=200, duration_ms=1)

    assert not ScimRequestLog.objects.exists()
    assert "could not write the SCIM request log" in caplog.text
