"""/Bulk: bulkId references, per-operation results, failOnErrors."""

from __future__ import annotations

import pytest

from tests.scim.conftest import error
from users.models import RoleMembership, User

pytestmark = pytest.mark.django_db

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_bulk_creates_a_user_and_a_group_that_references_it_by_bulk_id(scim):
    response = scim.post(
        "/Bulk",
        {
            "schemas": [BULK],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "u1",
                    "data": {"userName": "bulk@example.com"},
                },
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g1",
                    "data": {"displayName": "Bulk", "members": [{"value": "bulkId:u1"}]},
                },
                {
                    "method": "PATCH",
                    "path": "/Users/bulkId:u1",
                    "data": {"Operations": [{"op": "replace", "path": "title", "value": "T"}]},
                },
            ],
        },
    )

    assert response.status_code == 200
    user = User.objects.get(username="bulk@example.com")
    ops = response.json()["Operations"]
    group_id = ops[1]["location"].rsplit("/", 1)[-1]
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]
    assert ops == [
        {
            "method": "POST",
            "bulkId": "u1",
            "location": f"http://127.0.0.1:8000/scim/v2/Users/{user.pk}",
            "version": 'W/"1"',
            "status": "201",
        },
        {
            "method": "POST",
            "bulkId": "g1",
            "location": f"http://127.0.0.1:8000/scim/v2/Groups/{group_id}",
            "version": 'W/"2"',
            "status": "201",
        },
        {
            "method": "PATCH",
            "location": f"http://127.0.0.1:8000/scim/v2/Users/{user.pk}",
            "version": 'W/"2"',
            "status": "200",
        },
    ]
    assert RoleMembership.objects.filter(role_id=group_id, user=user, source="scim").exists()
    assert User.objects.get(pk=user.pk).title == "T"


def test_bulk_reports_each_failure_and_stops_after_fail_on_errors(scim):
    response = scim.post(
        "/Bulk",
        {
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": ""}},
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "b",
                    "data": {"userName": "never@example.com"},
                },
            ],
        },
    )

    assert response.json()["Operations"] == [
        {
            "method": "POST",
            "bulkId": "a",
            "status": "400",
            "response": error(400, "userName is required.", "invalidValue"),
        }
    ]
    assert not User.objects.filter(username="never@example.com").exists()


def test_bulk_without_fail_on_errors_runs_every_operation(scim):
    response = scim.post(
        "/Bulk",
        {
            "Operations": [
                {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000009"},
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "b",
                    "data": {"userName": "ok@example.com"},
                },
                {"method": "PUT", "path": "/Users/bulkId:missing", "data": {"userName": "x"}},
            ],
        },
    )

    statuses = [op["status"] for op in response.json()["Operations"]]
    assert statuses == ["404", "201", "400"]
    assert response.json()["Operations"][2]["response"] == error(
        400, "bulkId 'missing' names no earlier operation.", "invalidValue"
    )


def test_bulk_refuses_a_path_outside_users_and_groups(scim):
    response = scim.post(
        "/Bulk", {"Operations": [{"method": "POST", "path": "/Schemas", "bulkId": "x", "data": {}}]}
    )

    assert response.json()["Operations"][0]["response"] == error(
        400, "Bulk path '/Schemas' is not /Users, /Groups or one of theirs.", "invalidSyntax"
    )
