"""Every event type reaches a real receiver, signed, with the payload the README shows."""

from __future__ import annotations

import pytest
from django.db import transaction

from events.catalogue import EVENT_TYPES
from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
from tests.events.conftest import signature_valid
from tests.scim.conftest import ScimClient
from users.models import User
from users.services import Actor, user_image_recorded

pytestmark = pytest.mark.django_db(transaction=True)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _patch(scim: ScimClient, user_id: str, path: str, value: object) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": path, "value": value}],
    }
    response = scim.patch(f"/Users/{user_id}", body)
    assert response.status_code == 200, response.content


def _by_type(receiver) -> dict[str, list[dict]]:
    seen: dict[str, list[dict]] = {}
    for message in receiver.messages():
        seen.setdefault(message["type"], []).append(message)
    return seen


def test_every_event_type_is_delivered_signed_to_a_real_receiver(
    endpoint, receiver, provisioning_token
):
    _, secret = endpoint
    scim = ScimClient(provisioning_token)
    created = scim.post(
        "/Users",
        {
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work"}],
            "title": "Engineer",
        },
    )
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    _patch(scim, user_id, "title", "Chief Engineer")
    _patch(scim, user_id, f"{ENTERPRISE}:department", "Sales")
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineers",
            "members": [{"value": user_id}],
        },
    )
    assert group.status_code == 201, group.content
    actor = Actor.system("tests")
    space_upsert(slug="sales", name="Sales", actor=actor)
    persona, _ = persona_upsert(
        slug="sales",
        name="Sales",
        rule={"attr": "department", "op": "eq", "value": "Sales"},
        spaces=[SpaceGrant(space="sales", role="member")],
        actor=actor,
        schedule_evaluation=False,
    )
    persona_evaluate(persona=persona, actor=actor)
    with transaction.atomic():
        user_image_recorded(user=User.objects.get(pk=user_id), version="v1abc")
    _patch(scim, user_id, "active", False)
    _patch(scim, user_id, "active", True)
    _patch(scim, user_id, f"{ENTERPRISE}:department", "Finance")
    persona_evaluate(persona=persona, actor=actor)  # leaves the space
    assert scim.delete(f"/Users/{user_id}").status_code == 204

    for got in receiver.received:
        assert signature_valid(secret, got.headers, got.body)
        assert got.headers["webhook-id"] == got.payload["id"]
    seen = _by_type(receiver)
    assert set(seen) == set(EVENT_TYPES)

    user = seen["user.created"][0]["data"]["user"]
    assert (user["id"], user["userName"], user["title"]) == (user_id, "ada@example.com", "Engineer")
    assert user["emails"] == [{"value": "ada@example.com", "type": "work"}]
    assert seen["user.created"][0]["id"].startswith("evt_")
    updates = [m["data"]["changed"] for m in seen["user.updated"]]
    assert ["title"] in updates
    assert seen["user.updated"][0]["data"]["user"]["title"] == "Chief Engineer"
    assert seen["user.deactivated"][0]["data"]["user"]["active"] is False
    assert seen["user.reactivated"][0]["data"]["user"]["active"] is True
    assert seen["role.members_changed"][0]["data"]["added"] == [user_id]
    assert seen["role.members_changed"][0]["data"]["role"]["displayName"] == "Engineers"
    added = seen["space.member_added"][0]["data"]
    assert (added["user"]["id"], added["space"]["slug"], added["persona"]) == (
        user_id,
        "sales",
        "sales",
    )
    assert seen["space.member_removed"][0]["data"]["user"]["id"] == user_id
    assert seen["user.image_changed"][0]["data"]["image"]["version"] == "v1abc"
    assert seen["user.deleted"][0]["data"]["user"] == {"id": user_id, "userName": "ada@example.com"}
    assert seen["user.created"][0]["created_at"].endswith("Z")
    # In order: the creation first, the deletion last.
    types = [m["type"] for m in receiver.messages()]
    assert types[0] == "user.created"
    assert types[-1] == "user.deleted"
    ids = [m["id"] for m in receiver.messages()]
    assert ids == sorted(ids)
