"""Discovery: ServiceProviderConfig, ResourceTypes, Schemas built from custom fields."""

from __future__ import annotations

import pytest

from tests.scim.conftest import AXERO
from users.services import Actor, custom_field_define

pytestmark = pytest.mark.django_db


def test_service_provider_config_advertises_patch_bulk_filter_sort_etag(scim, settings):
    settings.SCIM_MAX_BODY_BYTES = 2048

    body = scim.get("/ServiceProviderConfig").json()

    assert body["patch"] == {"supported": True}
    assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 2048}
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"] == {"supported": False}
    assert body["sort"] == {"supported": True}
    assert body["etag"] == {"supported": True}
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_list_users_with_both_extensions_and_groups(scim):
    body = scim.get("/ResourceTypes").json()
    user = scim.get("/ResourceTypes/User").json()

    assert [r["id"] for r in body["Resources"]] == ["User", "Group"]
    assert user["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False},
        {"schema": AXERO, "required": False},
    ]


def test_a_new_custom_field_appears_in_schemas_at_once(scim):
    before = scim.get(f"/Schemas/{AXERO}").json()
    custom_field_define(key="persona", type="string", label="Persona", actor=Actor.system("t"))
    custom_field_define(key="skills", type="list", actor=Actor.system("t"))

    after = scim.get(f"/Schemas/{AXERO}").json()

    assert [a["name"] for a in before["attributes"]] == ["hireDate"]
    assert [
        (a["name"], a["type"], a["multiValued"], a["description"]) for a in after["attributes"]
    ] == [
        (
            "hireDate",
            "dateTime",
            False,
            "Hire date and time, kept as sent (a date alone is midnight UTC); "
            "filters, sorting and persona rules use its calendar day.",
        ),
        ("persona", "string", False, "Persona"),
        ("skills", "string", True, "Skills"),
    ]


def test_schemas_lists_the_core_discovery_schemas_too(scim):
    ids = [s["id"] for s in scim.get("/Schemas").json()["Resources"]]

    assert ids == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        AXERO,
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    ]


def test_custom_fields_round_trip_through_scim(scim):
    actor = Actor.system("t")
    custom_field_define(key="skills", type="list", actor=actor)
    custom_field_define(key="remote", type="boolean", actor=actor)
    custom_field_define(key="start", type="date", actor=actor)

    created = scim.post(
        "/Users",
        {
            "userName": "c@example.com",
            AXERO: {"skills": ["go"], "remote": "True", "start": "2024-05-06"},
        },
    ).json()
    added = scim.patch(
        f"/Users/{created['id']}",
        {"Operations": [{"op": "add", "path": f"{AXERO}:skills", "value": ["rust", "go"]}]},
    ).json()
    removed = scim.patch(
        f"/Users/{created['id']}", {"Operations": [{"op": "remove", "path": "remote"}]}
    ).json()

    assert created[AXERO] == {"remote": True, "skills": ["go"], "start": "2024-05-06T00:00:00Z"}
    assert added[AXERO]["skills"] == ["go", "rust"]  # add to a multi-valued field is a union
    assert removed[AXERO] == {"skills": ["go", "rust"], "start": "2024-05-06T00:00:00Z"}
