"""A PATCH of a list custom field is bounded before it merges (issue 8, finding 15): the
review's 291 KiB body of adds took ~3 s of CPU under the user's row lock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scim import patch as scim_patch
from tests.factories import UserFactory
from tests.scim.conftest import AXERO, PATCH_OP, error
from users.models import CustomField

pytestmark = pytest.mark.django_db


def _patch_body(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


@pytest.fixture
def tags() -> CustomField:
    return CustomField.objects.create(key="tags", label="Tags", type="list")


def _add_tags(values: list[Any]) -> dict[str, Any]:
    return {"op": "add", "path": f"{AXERO}:tags", "value": values}


def test_a_huge_list_patch_is_refused_before_anything_is_merged(scim, tags, monkeypatch):
    # The review's body: ~291 KiB of adds of distinct values to one list field.
    user = UserFactory()
    body = _patch_body(*[_add_tags([f"t{i}-{j}" for j in range(30)]) for i in range(1000)])
    assert len(json.dumps(body)) > 290_000
    merged: list[tuple[int, int]] = []
    real_union = scim_patch._list_union

    def spy(key: str, current: list[Any], extra: list[Any]) -> list[Any]:
        merged.append((len(current), len(extra)))
        return real_union(key, current, extra)

    monkeypatch.setattr(scim_patch, "_list_union", spy)

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.json() == error(400, "custom.tags: more than 200 values", "invalidValue")
    # The bound stops the body within its first operations; no merge held more than it.
    assert 0 < len(merged) <= 7
    assert all(current <= 200 and extra <= 200 for current, extra in merged)
    user.refresh_from_db()
    assert user.custom.get("tags") is None


def test_one_add_of_more_values_than_the_bound_is_refused_without_merging(scim, tags, monkeypatch):
    user = UserFactory()
    monkeypatch.setattr(scim_patch, "_list_union", lambda *a: pytest.fail("merged"))

    response = scim.patch(f"/Users/{user.pk}", _patch_body(_add_tags(["x"] * 201)))

    assert response.json() == error(400, "custom.tags: more than 200 values", "invalidValue")


def test_a_list_add_of_objects_is_invalid_value(scim, tags):
    user = UserFactory()

    response = scim.patch(f"/Users/{user.pk}", _patch_body(_add_tags([{"a": 1}])))

    assert response.json() == error(
        400, "custom.tags: expected a list of text values", "invalidValue"
    )


def test_a_list_add_is_a_union_that_keeps_order(scim, tags):
    user = UserFactory()
    user.custom = {"tags": ["a", "b"]}
    user.save(update_fields=["custom"])

    response = scim.patch(
        f"/Users/{user.pk}",
        _patch_body(_add_tags(["b", "c", "c"]), _add_tags("d"), _add_tags(["a", "e"])),
    )

    assert response.status_code == 200, response.content
    assert response.json()[AXERO]["tags"] == ["a", "b", "c", "d", "e"]
    user.refresh_from_db()
    assert user.custom["tags"] == ["a", "b", "c", "d", "e"]


def test_a_list_can_grow_to_exactly_the_bound(scim, tags):
    user = UserFactory()
    body = _patch_body(
        _add_tags([f"v{i}" for i in range(150)]), _add_tags([f"v{i}" for i in range(100, 200)])
    )

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.status_code == 200, response.content
    assert len(response.json()[AXERO]["tags"]) == 200
