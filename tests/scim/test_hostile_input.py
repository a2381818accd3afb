"""Hostile or odd input found by review: never a 500, never unbounded, never a logged secret."""

from __future__ import annotations

import json

import pytest

from scim.models import ScimRequestLog
from tests.factories import RoleFactory, UserFactory
from tests.scim.conftest import ScimClient, error
from users.models import CustomField, RoleMembership, User

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_a_user_id_is_404_and_logged(scim):
    response = scim.get("/Users/abc%00def")

    assert response.status_code == 404
    assert response.json() == error(404, "User abc\x00def not found.")
    entry = ScimRequestLog.objects.get()
    assert (entry.path, entry.error_detail) == (
        "/scim/v2/Users/abc%00def",
        "User abc\ufffddef not found.",
    )


def test_a_non_json_body_with_a_nul_byte_is_invalid_syntax_and_logged(scim):
    response = scim.post("/Users", raw=b"\xff\xfe\x00")

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert ScimRequestLog.objects.get().request_body == "\ufffd\ufffd\ufffd"


def test_an_if_match_with_a_nul_byte_is_412_and_logged(scim):
    user = UserFactory()

    response = scim.put(
        f"/Users/{user.pk}", {"userName": user.username}, headers={"If-Match": "a\x00b"}
    )

    assert response.status_code == 412
    entry = ScimRequestLog.objects.get()
    assert (entry.status, entry.error_detail) == (
        412,
        'The resource has changed: its version is W/"1", not a\ufffdb.',
    )


def test_a_search_with_a_fractional_count_is_invalid_value(scim):
    response = scim.post("/Users/.search", raw='{"count": 1.5}')

    assert response.json() == error(400, "count: expected an integer, got 1.5", "invalidValue")


@pytest.mark.parametrize(
    ("number", "detail"),
    [
        ("Infinity", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("NaN", "NaN is not a JSON number"),
        ("1e400", "1e400 is out of range"),
        ("-1e400", "-1e400 is out of range"),
    ],
)
def test_numbers_json_does_not_have_are_invalid_syntax_wherever_they_are(scim, number, detail):
    custom = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"
    CustomField.objects.create(key="score", label="Score", type="number")

    search = scim.post("/Users/.search", raw=f'{{"count": {number}}}')
    create = scim.post("/Users", raw=f'{{"userName": "n@x.io", "{custom}": {{"score": {number}}}}}')

    expected = error(400, f"The request body is not valid JSON: {detail}.", "invalidSyntax")
    assert (search.json(), create.json()) == (expected, expected)
    assert not User.objects.exists()


def test_a_search_with_an_integral_float_count_is_accepted(scim):
    UserFactory()

    response = scim.post("/Users/.search", {"count": 1.0})

    assert (response.status_code, response.json()["itemsPerPage"]) == (200, 1)


def test_an_overlong_count_is_invalid_value_without_echoing_it_whole(scim):
    response = scim.get("/Users?count=" + "9" * 5000)

    assert response.json() == error(
        400, "count: expected an integer, got '" + "9" * 39, "invalidValue"
    )


def test_a_bulk_version_that_is_not_a_string_fails_that_operation_with_400(scim):
    user = UserFactory()

    response = scim.post(
        "/Bulk",
        {"Operations": [{"method": "DELETE", "path": f"/Users/{user.pk}", "version": 5}]},
    )

    assert response.json()["Operations"] == [
        {
            "method": "DELETE",
            "status": "400",
            "response": error(
                400, "Operations[0].version must be an ETag string.", "invalidSyntax"
            ),
        }
    ]
    assert User.objects.filter(pk=user.pk).exists()


def test_a_repeated_bulk_id_is_refused_and_references_keep_the_first_resource(scim):
    response = scim.post(
        "/Bulk",
        {
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "a@x.io"}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "b@x.io"}},
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g",
                    "data": {"displayName": "G", "members": [{"value": "bulkId:u"}]},
                },
            ]
        },
    )

    first, second, group = response.json()["Operations"]
    assert (first["status"], second["status"], group["status"]) == ("201", "400", "201")
    assert second["response"] == error(
        400, "bulkId 'u' is used by an earlier operation.", "invalidValue"
    )
    assert not User.objects.filter(username="b@x.io").exists()
    member = RoleMembership.objects.get(role__display_name="G")
    assert member.user.username == "a@x.io"


def test_a_patch_with_more_operations_than_the_limit_is_413_and_changes_nothing(scim):
    role, user = RoleFactory(), UserFactory()
    add = {"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}

    response = scim.patch(f"/Groups/{role.pk}", {"Operations": [add] * 1001})

    assert response.status_code == 413
    assert response.json() == error(
        413, "1001 operations; at most 1000 per PATCH request.", "tooMany"
    )
    assert not RoleMembership.objects.filter(role=role).exists()


def test_a_patch_at_the_operation_limit_is_applied(scim, monkeypatch):
    monkeypatch.setattr("scim.patch.MAX_PATCH_OPERATIONS", 3)
    role, users = RoleFactory(), UserFactory.create_batch(3)
    adds = [{"op": "add", "path": "members", "value": [{"value": str(u.pk)}]} for u in users]

    assert scim.patch(f"/Groups/{role.pk}", {"Operations": adds}).status_code == 204
    assert scim.patch(f"/Groups/{role.pk}", {"Operations": adds * 2}).status_code == 413
    assert set(RoleMembership.objects.filter(role=role).values_list("user_id", flat=True)) == {
        u.pk for u in users
    }


@pytest.mark.parametrize("raw", ["axscim_\udcff", "axscim_é"])
def test_a_non_ascii_bearer_token_is_401(raw):
    response = ScimClient(raw).get("/Users")

    assert response.status_code == 401
    assert response.json() == error(401, "A valid bearer token is required.")


def test_a_password_set_by_patch_path_is_redacted_in_the_request_log(scim):
    user = UserFactory()
    ops = [
        {"op": "replace", "path": "password", "value": "hunter2-by-path"},
        {"op": "replace", "value": {"client_secret": "s1", "refreshToken": "s2", "title": "T"}},
    ]

    scim.patch(f"/Users/{user.pk}", {"Operations": ops})

    logged = json.loads(ScimRequestLog.objects.get().request_body)
    assert logged == {
        "Operations": [
            {"op": "replace", "path": "password", "value": "[redacted]"},
            {
                "op": "replace",
                "value": {
                    "client_secret": "[redacted]",
                    "refreshToken": "[redacted]",
                    "title": "T",
                },
            },
        ]
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/Users"), ("PUT", "/Groups"), ("POST", "/Users/x"), ("GET", "/Users")],
)
def test_a_bulk_method_the_path_does_not_take_is_named_in_the_error(scim, method, path):
    response = scim.post("/Bulk", {"Operations": [{"method": method, "path": path, "bulkId": "b"}]})

    (result,) = response.json()["Operations"]
    assert result["response"] == error(
        400, f"Bulk does not support {method} {path}.", "invalidSyntax"
    )


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            '{"userName": "n@x.io", "title": ' + "9" * 5000 + "}",
            "The request body is not valid JSON: a number is too long or the nesting too deep.",
        ),
        (
            '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "The request body is not valid JSON: a number is too long or the nesting too deep.",
        ),
        (b'{"userName": "\xff\xfe"}', "The request body is not UTF-8 text."),
    ],
)
def test_bodies_past_the_parsers_limits_are_invalid_syntax_without_interpreter_detail(
    scim, raw, detail
):
    response = scim.post("/Users", raw=raw)

    assert response.json() == error(400, detail, "invalidSyntax")


def test_a_bulk_operation_nested_past_the_limit_is_refused_whole_not_a_500(scim):
    nest = "[" * 900 + "]" * 900
    raw = (
        '{"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",'
        ' "data": {"userName": "deep@x.io", "title": ' + nest + "}}]}"
    )

    response = scim.post("/Bulk", raw=raw)

    assert response.json() == error(
        400, "The request body nests deeper than 32 levels.", "invalidSyntax"
    )
    assert not User.objects.filter(username="deep@x.io").exists()


def test_a_body_nested_to_the_limit_is_parsed(scim):
    title = "[" * 30 + "]" * 30  # the user body is level 1, title level 2

    response = scim.post("/Users", raw='{"userName": "n@x.io", "title": ' + title + "}")

    assert response.json() == error(400, "title: expected text", "invalidValue")


@pytest.mark.parametrize(
    ("score", "shown"),
    [
        ('"' + "9" * 5000 + '"', "'" + "9" * 39),
        ('"1e5000"', "'1e5000'"),
        ("1" + "0" * 400, "1" + "0" * 39),
    ],
)
def test_a_custom_number_past_the_float_range_is_invalid_value(scim, score, shown):
    custom = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"
    CustomField.objects.create(key="score", label="Score", type="number")

    response = scim.post(
        "/Users", raw=f'{{"userName": "n@x.io", "{custom}": {{"score": {score}}}}}'
    )

    assert response.json() == error(400, f"custom.score: {shown} is not a number", "invalidValue")
    assert not User.objects.exists()


def test_a_custom_number_at_the_edge_of_the_float_range_is_kept(scim):
    custom = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"
    CustomField.objects.create(key="score", label="Score", type="number")

    response = scim.post("/Users", {"userName": "n@x.io", custom: {"score": "1e300"}})

    assert response.status_code == 201
    assert User.objects.get().custom == {"score": 10**300}
