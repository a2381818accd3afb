"""Malformed input of every shape gets a SCIM 4xx body, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

BAD_USER_BODIES = [
    {"userName": 123},
    {"userName": "x" * 300},
    {"userName": "nul\u0000byte"},
    {"userName": "ok@example.com", "active": "maybe"},
    {"userName": "ok@example.com", "emails": 5},
    {"userName": "ok@example.com", "emails": [5]},
    {"userName": "ok@example.com", "emails": [{"value": ["a"]}]},
    {
        "userName": "ok@example.com",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": ["x"]},
    },
    {
        "userName": "ok@example.com",
        "urn:ietf:params:scim:schemas:extension:axero:2.0:User": {"hireDate": "soon"},
    },
    {"userName": "ok@example.com", "photos": [{"value": "ftp://x"}]},
    {"userName": "ok@example.com", "title": {"nested": True}},
    {"userName": "ok@example.com", "externalId": "e" * 300},
]


@pytest.mark.parametrize("body", BAD_USER_BODIES)
def test_bad_user_bodies_are_400(scim, body):
    response = scim.post("/Users", body)

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"


BAD_GROUP_BODIES = [
    {"displayName": ""},
    {"displayName": 5},
    {"displayName": "G", "members": "not-a-list-of-ids"},
    {"displayName": "G", "members": [7]},
    {"displayName": "G", "externalId": "e" * 300},
    {"displayName": "G" * 300},
]


@pytest.mark.parametrize("body", BAD_GROUP_BODIES)
def test_bad_group_bodies_are_400(scim, body):
    response = scim.post("/Groups", body)

    assert response.status_code == 400, response.content


BAD_PATCHES = [
    {"Operations": "nope"},
    {"Operations": [5]},
    {"Operations": [{"op": "move", "path": "title"}]},
    {"Operations": [{"op": "add", "path": "title"}]},
    {"Operations": [{"op": "add", "path": 5, "value": "x"}]},
    {"Operations": [{"op": "replace", "value": "not an object"}]},
    {"Operations": [{"op": "replace", "path": "name", "value": "flat"}]},
    {"Operations": [{"op": "add", "path": 'emails[type eq "work"]', "value": "flat"}]},
    {"Operations": [{"op": "remove", "path": "userName"}]},
    {"Operations": [{"op": "remove", "path": "active"}]},
    {"Operations": [{"op": "replace", "path": "emails[", "value": "x"}]},
    {"Operations": [{"op": "replace", "path": "members", "value": []}]},
]


@pytest.mark.parametrize("body", BAD_PATCHES)
def test_bad_user_patches_are_400(scim, body):
    user = UserFactory()

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.status_code == 400, response.content
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "externalId", "value": "e" * 300},
        {"op": "replace", "path": "displayName", "value": 5},
        {"op": "remove", "path": "displayName"},
        {"op": "add", "path": "members", "value": [{"value": "x"}]},
        {"op": "add", "path": 'members[value eq "x"]', "value": [{"value": "x"}]},
        {"op": "remove"},
    ],
)
def test_bad_group_patches_are_400(scim, op):
    role = RoleFactory()

    response = scim.patch(f"/Groups/{role.pk}", {"Operations": [op]})

    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "query",
    [
        "count=abc",
        "sortOrder=sideways",
        "sortBy=noSuchAttribute",
        "filter=userName%20eq%20%22a%00b%22",
        "filter=" + "(" * 500,
    ],
)
def test_bad_list_parameters_are_400(scim, query):
    response = scim.get(f"/Users?{query}")

    assert response.status_code == 400, response.content


def test_a_start_index_past_the_end_is_an_empty_page(scim):
    UserFactory()

    body = scim.get("/Users?startIndex=99999999999999999999999").json()

    assert (body["totalResults"], body["itemsPerPage"], body["Resources"]) == (1, 0, [])


def test_deeply_nested_json_is_invalid_syntax(scim):
    response = scim.post("/Users", raw="[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


@override_settings(SCIM_MAX_BODY_BYTES=4 * 1024 * 1024)
def test_a_body_above_djangos_upload_limit_but_within_ours_is_accepted(scim):
    ops = [{"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"}] * 900
    padding = "x" * (3 * 1024 * 1024)
    raw = json.dumps({"Operations": ops, "padding": padding})

    response = scim.post("/Bulk", raw=raw)

    assert response.status_code == 200
    assert len(response.json()["Operations"]) == 900
