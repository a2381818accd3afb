"""Exact RFC 7644 §3.12 error bodies for every kind of bad request."""

from __future__ import annotations

import pytest
from django.test import override_settings

from scim.tokens import scim_token_revoke
from tests.factories import RoleFactory, UserFactory
from tests.scim.conftest import ScimClient, error
from users.services import Actor

pytestmark = pytest.mark.django_db


def _assert_error(response, status: int, detail: str, scim_type: str | None = None) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == error(status, detail, scim_type)


def test_bad_json_is_invalid_syntax(scim):
    response = scim.post("/Users", raw=b'{"userName": ')

    _assert_error(
        response,
        400,
        "The request body is not valid JSON: Expecting value: line 1 column 14 (char 13)",
        "invalidSyntax",
    )


def test_a_json_array_body_is_invalid_syntax(scim):
    _assert_error(
        scim.post("/Users", raw=b"[]"),
        400,
        "The request body must be a JSON object.",
        "invalidSyntax",
    )


def test_patch_without_operations_is_invalid_syntax(scim):
    user = UserFactory()

    response = scim.patch(f"/Users/{user.pk}", {"schemas": []})

    _assert_error(
        response, 400, "A PatchOp body needs a non-empty 'Operations' list.", "invalidSyntax"
    )


def test_bad_filter_is_invalid_filter(scim):
    response = scim.get('/Users?filter=userName eq "x" and')

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert response.json()["status"] == "400"


def test_filter_on_an_unknown_attribute_is_invalid_filter(scim):
    response = scim.get('/Users?filter=shoeSize eq "42"')

    _assert_error(response, 400, "unknown attribute 'shoeSize'", "invalidFilter")


def test_patch_on_an_unknown_path_is_invalid_path(scim):
    user = UserFactory()

    response = scim.patch(
        f"/Users/{user.pk}", {"Operations": [{"op": "replace", "path": "shoeSize", "value": "42"}]}
    )

    _assert_error(response, 400, "unknown attribute 'shoeSize'", "invalidPath")


def test_bad_email_is_invalid_value(scim):
    response = scim.post(
        "/Users", {"userName": "x@example.com", "emails": [{"value": "not-an-email"}]}
    )

    _assert_error(response, 400, "email: 'not-an-email' is not an email address", "invalidValue")


def test_missing_username_is_invalid_value(scim):
    _assert_error(
        scim.post("/Users", {"name": {"givenName": "No"}}),
        400,
        "userName is required.",
        "invalidValue",
    )


def test_group_member_that_does_not_exist_is_invalid_value(scim):
    role = RoleFactory()
    missing = "00000000-0000-0000-0000-000000000001"

    response = scim.patch(
        f"/Groups/{role.pk}",
        {"Operations": [{"op": "add", "path": "members", "value": [{"value": missing}]}]},
    )

    _assert_error(response, 400, f"members: no such user: {missing}", "invalidValue")


def test_duplicate_group_name_is_uniqueness(scim):
    RoleFactory(display_name="Sales")

    _assert_error(
        scim.post("/Groups", {"displayName": "sales"}),
        409,
        "displayName 'sales' is already taken",
        "uniqueness",
    )


def test_changing_the_id_is_mutability(scim):
    user = UserFactory()

    response = scim.patch(
        f"/Users/{user.pk}",
        {
            "Operations": [
                {"op": "replace", "value": {"id": "00000000-0000-0000-0000-000000000002"}}
            ]
        },
    )
    put = scim.put(
        f"/Users/{user.pk}", {"id": "00000000-0000-0000-0000-000000000002", "userName": "x"}
    )

    _assert_error(response, 400, "Attribute 'id' is read-only and cannot change.", "mutability")
    _assert_error(put, 400, "Attribute 'id' is read-only and cannot change.", "mutability")


def test_patching_read_only_groups_is_mutability(scim):
    user = UserFactory()

    response = scim.patch(
        f"/Users/{user.pk}",
        {"Operations": [{"op": "add", "path": "groups", "value": [{"value": "x"}]}]},
    )

    _assert_error(response, 400, "Attribute 'groups' is read-only.", "mutability")


def test_remove_without_path_is_no_target(scim):
    user = UserFactory()

    response = scim.patch(f"/Users/{user.pk}", {"Operations": [{"op": "remove"}]})

    _assert_error(response, 400, "A remove operation needs a path.", "noTarget")


def test_replace_with_a_filter_matching_no_value_is_no_target(scim):
    user = UserFactory(email="a@example.com")

    response = scim.patch(
        f"/Users/{user.pk}",
        {
            "Operations": [
                {
                    "op": "replace",
                    "path": 'emails[value eq "b@example.com"].value',
                    "value": "c@example.com",
                }
            ]
        },
    )

    _assert_error(response, 400, "No value of 'emails' matches the path filter.", "noTarget")


def test_bulk_over_max_operations_is_too_many(scim):
    ops = [{"method": "DELETE", "path": f"/Users/{n}"} for n in range(1001)]

    response = scim.post("/Bulk", {"schemas": [], "Operations": ops})

    _assert_error(response, 413, "1001 operations; at most 1000 per request.", "tooMany")


@override_settings(SCIM_MAX_BODY_BYTES=100)
def test_a_body_over_the_limit_is_413_before_parsing(scim):
    response = scim.post("/Users", raw=b"{" + b" " * 200)

    _assert_error(response, 413, "The request body is larger than 100 bytes.")


@pytest.mark.parametrize("header", [None, "Bearer axscim_wrong", "Basic dXNlcjpwYXNz", "Bearer "])
def test_missing_or_wrong_token_is_401_with_www_authenticate(header):
    client = ScimClient(None)

    response = client.get("/Users", headers={"Authorization": header} if header else None)

    _assert_error(response, 401, "A valid bearer token is required.")
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_revoked_token_is_401(scim):
    scim_token_revoke(name="onelogin", actor=Actor.system("t"))

    response = scim.get("/Users")

    _assert_error(response, 401, "A valid bearer token is required.")
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/Users", "GET, POST"),
        ("DELETE", "/Groups", "GET, POST"),
        ("POST", "/Users/00000000-0000-0000-0000-000000000003", "GET, PUT, PATCH, DELETE"),
        ("GET", "/Users/.search", "POST"),
        ("POST", "/ServiceProviderConfig", "GET"),
        ("DELETE", "/Schemas", "GET"),
        ("GET", "/Bulk", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(scim, method, path, allowed):
    response = scim.request(method, path, {})

    _assert_error(response, 405, f"{method} is not allowed here.")
    assert response["Allow"] == allowed


def test_unknown_user_group_and_endpoint_are_404(scim):
    missing = "00000000-0000-0000-0000-000000000004"

    _assert_error(scim.get(f"/Users/{missing}"), 404, f"User {missing} not found.")
    _assert_error(scim.get("/Groups/not-a-uuid"), 404, "Group not-a-uuid not found.")
    _assert_error(scim.get("/Nope"), 404, "No SCIM endpoint at /scim/v2/Nope.")
    _assert_error(scim.get("/Schemas/urn:nope"), 404, "No schema 'urn:nope'.")


def test_stale_if_match_is_412(scim):
    user = UserFactory()

    response = scim.put(
        f"/Users/{user.pk}", {"userName": user.username}, headers={"If-Match": 'W/"99"'}
    )

    _assert_error(response, 412, 'The resource has changed: its version is W/"1", not W/"99".')


def test_bad_start_index_is_invalid_value(scim):
    _assert_error(
        scim.get("/Users?startIndex=abc"),
        400,
        "startIndex: expected an integer, got 'abc'",
        "invalidValue",
    )


def test_an_unexpected_error_is_500_with_an_error_id_and_no_exception_text(scim, monkeypatch):
    from scim import user_resources

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(user_resources, "scim_users_matching", explode)

    response = scim.get("/Users")

    assert response.status_code == 500
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "500"
    assert body["detail"].startswith("Internal error; quote error id ")
    assert "secret" not in response.content.decode()
