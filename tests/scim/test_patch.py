"""User PATCH semantics: paths, filters, no-path values, multi-valued adds."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.scim.conftest import ENTERPRISE
from users.models import User

pytestmark = pytest.mark.django_db


def _patch(scim, user, *ops):
    response = scim.patch(f"/Users/{user.pk}", {"Operations": list(ops)})
    assert response.status_code == 200, response.content
    return response.json()


def test_replace_name_path_merges_sub_attributes(scim):
    user = UserFactory(first_name="A", last_name="B")

    body = _patch(scim, user, {"op": "replace", "path": "name", "value": {"givenName": "C"}})

    assert body["name"] == {"givenName": "C", "familyName": "B"}


def test_remove_name_given_name_clears_only_it(scim):
    user = UserFactory(first_name="A", last_name="B")

    body = _patch(scim, user, {"op": "remove", "path": "name.givenName"})

    assert body["name"] == {"familyName": "B"}


def test_add_a_primary_email_replaces_the_kept_one(scim):
    user = UserFactory(email="old@example.com")

    _patch(
        scim,
        user,
        {"op": "add", "path": "emails", "value": [{"value": "new@example.com", "primary": True}]},
    )

    assert User.objects.get(pk=user.pk).email == "new@example.com"


def test_add_a_non_primary_email_keeps_the_kept_one(scim):
    user = UserFactory(email="old@example.com")

    _patch(
        scim,
        user,
        {"op": "add", "path": "emails", "value": [{"value": "home@example.com", "type": "home"}]},
    )

    assert User.objects.get(pk=user.pk).email == "old@example.com"


def test_remove_emails_by_filter(scim):
    user = UserFactory(email="old@example.com")

    body = _patch(scim, user, {"op": "remove", "path": 'emails[value eq "old@example.com"]'})

    assert "emails" not in body
    assert User.objects.get(pk=user.pk).email == ""


def test_remove_manager_and_remove_whole_enterprise_extension(scim):
    boss = UserFactory()
    user = UserFactory(manager=boss, department="D", title="T")

    no_manager = _patch(scim, user, {"op": "remove", "path": f"{ENTERPRISE}:manager"})
    no_extension = _patch(scim, user, {"op": "remove", "path": ENTERPRISE})

    assert no_manager[ENTERPRISE] == {"department": "D"}
    assert ENTERPRISE not in no_extension
    assert no_extension["title"] == "T"


def test_manager_value_sub_path_sets_the_manager(scim):
    boss = UserFactory(username="boss@example.com")
    user = UserFactory()

    _patch(
        scim,
        user,
        {"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": "boss@example.com"},
    )

    assert User.objects.get(pk=user.pk).manager_id == boss.pk


def test_reactivation_with_active_true(scim):
    user = UserFactory(is_active=False)

    body = _patch(scim, user, {"op": "replace", "path": "active", "value": "True"})

    assert body["active"] is True
    assert User.objects.get(pk=user.pk).deactivated_at is None


def test_username_change_to_a_taken_one_is_409(scim):
    UserFactory(username="taken@example.com")
    user = UserFactory()

    response = scim.patch(
        f"/Users/{user.pk}",
        {"Operations": [{"op": "replace", "path": "userName", "value": "TAKEN@example.com"}]},
    )

    assert response.status_code == 409


def test_an_identical_patch_writes_nothing(scim):
    user = UserFactory(title="Same")

    body = _patch(scim, user, {"op": "replace", "path": "title", "value": "Same"})

    assert body["meta"]["version"] == 'W/"1"'


def test_patch_response_honours_attributes(scim):
    user = UserFactory()

    response = scim.patch(
        f"/Users/{user.pk}?attributes=title",
        {"Operations": [{"op": "replace", "path": "title", "value": "T"}]},
    )

    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": str(user.pk),
        "title": "T",
    }
