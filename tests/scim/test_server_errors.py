"""One server-error helper for SCIM, Bulk and the JSON API; uniqueness races mapped
to 409 by the name of the constraint that caught them.

Every unexpected exception answers 500 with the request's reference (its X-Request-ID)
and never the exception's text, and leaves one log line with the traceback and that
reference, so support can go from what the client quotes to the failure.
"""

from __future__ import annotations

import logging

import pytest
from django.db import IntegrityError, transaction

from axero_idp.errors import UniquenessConflict, raise_for_constraint
from tests.scim.conftest import GROUP_SCHEMA, USER_SCHEMA, error
from users.models import USERNAME_UNIQUE, Source, User
from users.services import Actor, role_create, user_create

pytestmark = pytest.mark.django_db

SECRET = "secret internals 5f1c"


def _explode(*args, **kwargs):
    raise RuntimeError(SECRET)


def _logged_failure(caplog, reference: str) -> logging.LogRecord:
    """The one log line of the failure: at ERROR, with the traceback and the reference."""
    records = [r for r in caplog.records if getattr(r, "error_id", None) == reference]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert SECRET in logging.Formatter().formatException(record.exc_info)
    assert reference in record.getMessage()
    return record


def _scim_500(reference: str) -> dict:
    return error(500, f"Internal error; quote error id {reference} to support.")


def test_an_exception_in_a_scim_handler_is_500_with_the_reference_and_a_logged_traceback(
    scim, monkeypatch, caplog
):
    monkeypatch.setattr("scim.user_resources.scim_users_matching", _explode)

    response = scim.get("/Users")

    reference = response["X-Request-ID"]
    assert response.status_code == 500
    assert response.json() == _scim_500(reference)
    assert SECRET not in response.content.decode()
    assert _logged_failure(caplog, reference).getMessage().startswith("SCIM request failed")


def test_an_exception_in_a_bulk_operation_is_its_500_with_the_reference(scim, monkeypatch, caplog):
    user = user_create(actor=Actor.system("t"), source=Source.SCIM, username="ann@example.com")
    monkeypatch.setattr("scim.user_resources.scim_user_replace", _explode)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "PUT", "path": f"/Users/{user.pk}", "data": {"userName": "ann2"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
        ],
    }

    response = scim.post("/Bulk", body)

    reference = response["X-Request-ID"]
    failed, created = response.json()["Operations"]
    assert response.status_code == 200
    assert failed == {"method": "PUT", "status": "500", "response": _scim_500(reference)}
    assert created["status"] == "201"  # the next operation still runs
    assert SECRET not in response.content.decode()
    assert _logged_failure(caplog, reference).getMessage().startswith("Bulk operation 0 failed")


def test_an_exception_in_bulk_creates_is_a_500_for_each_with_the_reference(
    scim, monkeypatch, caplog
):
    monkeypatch.setattr("scim.bulk_creates.users_create_many", _explode)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": name,
                "data": {"schemas": [USER_SCHEMA], "userName": f"{name}@example.com"},
            }
            for name in ("a", "b")
        ],
    }

    response = scim.post("/Bulk", body)

    reference = response["X-Request-ID"]
    assert response.json()["Operations"] == [
        {"method": "POST", "bulkId": name, "status": "500", "response": _scim_500(reference)}
        for name in ("a", "b")
    ]
    _logged_failure(caplog, reference)


def test_an_exception_in_a_json_api_view_is_500_with_the_reference(client, monkeypatch, caplog):
    person = user_create(actor=Actor.system("t"), source=Source.SCIM, username="bo@example.com")
    client.force_login(person)
    monkeypatch.setattr("users.api.user_profile", _explode)

    response = client.get("/api/v1/me/")

    reference = response["X-Request-ID"]
    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "error_id": reference}
    assert SECRET not in response.content.decode()
    assert _logged_failure(caplog, reference).getMessage().startswith("API request failed")


def test_a_lost_group_name_race_is_409_uniqueness_from_the_constraint(scim, monkeypatch):
    role_create(actor=Actor.system("t"), display_name="Sales")
    # The other request commits between this one's look-up and its insert: the look-up
    # says the name is free, the case-insensitive unique index says otherwise.
    monkeypatch.setattr("users.services.roles._name_taken", lambda *a, **k: False)

    response = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "SALES"})

    assert response.status_code == 409
    assert response.json() == error(409, "displayName 'SALES' is already taken", "uniqueness")


def test_a_lost_username_race_on_rename_is_409_uniqueness_from_the_constraint(scim, monkeypatch):
    user_create(actor=Actor.system("t"), source=Source.SCIM, username="taken@example.com")
    other = user_create(actor=Actor.system("t"), source=Source.SCIM, username="free@example.com")
    monkeypatch.setattr("users.services.users._username_taken", lambda *a, **k: False)

    response = scim.put(
        f"/Users/{other.pk}", {"schemas": [USER_SCHEMA], "userName": "TAKEN@example.com"}
    )

    assert response.status_code == 409
    assert response.json() == error(
        409, "userName 'TAKEN@example.com' is already taken", "uniqueness"
    )


def _integrity_error(**fields) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        User.objects.create(**fields)
    return caught.value


def test_the_named_unique_constraint_becomes_a_uniqueness_conflict():
    User.objects.create(username="cy@example.com")
    exc = _integrity_error(username="CY@example.com")

    with pytest.raises(UniquenessConflict, match="taken") as conflict:
        raise_for_constraint(exc, {USERNAME_UNIQUE: "taken"})
    assert conflict.value.scim_type == "uniqueness"


def test_another_integrity_error_is_re_raised_though_its_text_names_the_attribute():
    # A NOT NULL violation on username names the column in its text: matching the text
    # for "username" (as the services once did) answered it 409 uniqueness.
    exc = _integrity_error(username=None)
    assert "username" in str(exc)

    with pytest.raises(IntegrityError):
        raise_for_constraint(exc, {USERNAME_UNIQUE: "taken"})
