"""/Schemas is generated from the attribute table the parser reads.

`fixtures/schemas_before_table.json` is the /Schemas document as the hand-written
description in scim/discovery.py produced it (captured before the table drove it), with
one custom field of each type defined (the two response bodies of `_schemas` and
GET /ResourceTypes, written with json.dumps(indent=1, sort_keys=True)). The generated document must match it except for
the differences listed in INTENTIONAL, each of which makes the published schema say
what the parser and filter compiler really do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from users.services import Actor, custom_field_define

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "schemas_before_table.json"


def _define_one_custom_field_of_each_type() -> None:
    actor = Actor.system("test")
    custom_field_define(key="persona", type="string", label="Persona", actor=actor)
    custom_field_define(key="startDay", type="date", label="First day", actor=actor)
    custom_field_define(key="grade", type="number", actor=actor)
    custom_field_define(key="remote", type="boolean", actor=actor)
    custom_field_define(key="skills", type="list", label="Skills", actor=actor)


def _schemas(scim: Any) -> list[dict[str, Any]]:
    _define_one_custom_field_of_each_type()
    response = scim.get("/Schemas")
    assert response.status_code == 200
    return response.json()["Resources"]


def _by_path(attributes: list[dict[str, Any]], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every attribute definition by dotted path, sub-attributes flattened."""
    out: dict[str, dict[str, Any]] = {}
    for attr in attributes:
        path = prefix + attr["name"]
        out[path] = {k: v for k, v in attr.items() if k != "subAttributes"}
        out.update(_by_path(attr.get("subAttributes", []), path + "."))
    return out


def test_generated_schemas_match_the_hand_written_ones_but_for_the_intentional_differences(scim):
    before = json.loads(FIXTURE.read_text())["Schemas"]
    after = _schemas(scim)

    # Ids, names, descriptions and meta are as before, and so is the order of everything.
    assert [{k: v for k, v in s.items() if k != "attributes"} for s in after] == [
        {k: v for k, v in s.items() if k != "attributes"} for s in before
    ]
    assert [list(_by_path(s["attributes"])) for s in after] == [
        list(_by_path(s["attributes"])) for s in before
    ]
    changed = {
        (schema["name"], path, key): (old.get(key), new.get(key))
        for schema, old_schema in zip(after, before, strict=True)
        for (path, new), old in zip(
            _by_path(schema["attributes"]).items(),
            _by_path(old_schema["attributes"]).values(),
            strict=True,
        )
        for key in new.keys() | old.keys()
        if old.get(key) != new.get(key)
    }
    assert changed == INTENTIONAL


# The hand-written description said caseExact false where the filter compiler compares
# exactly: ids (groups.value, manager.value) are UUIDs, and a list custom field is matched
# by JSON containment. The table is the one truth now, so /Schemas says so.
INTENTIONAL = {
    ("User", "groups.value", "caseExact"): (False, True),
    ("EnterpriseUser", "manager.value", "caseExact"): (False, True),
    ("AxeroUser", "skills", "caseExact"): (False, True),
}


def test_resource_types_are_as_before(scim):
    before = json.loads(FIXTURE.read_text())["ResourceTypes"]

    assert scim.get("/ResourceTypes").json()["Resources"] == before
