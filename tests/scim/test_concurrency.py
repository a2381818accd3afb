"""Concurrent requests on the real PostgreSQL, each thread with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from tests.factories import RoleFactory, UserFactory
from tests.scim.conftest import ScimClient
from users.models import AuditEvent, Role, RoleMembership, User

pytestmark = pytest.mark.django_db(transaction=True)


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = calls[index]()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_posts_of_the_same_username_at_once_give_one_201_and_one_409(scim_token):
    def create() -> Any:
        return ScimClient(scim_token).post("/Users", {"userName": "Race@Example.com"})

    responses = _at_once([create, create])

    assert sorted(r.status_code for r in responses) == [201, 409]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["scimType"] == "uniqueness"
    assert User.objects.filter(username__iexact="race@example.com").count() == 1


def test_sixteen_concurrent_member_adds_to_one_group_keep_all_sixteen(scim_token):
    role = RoleFactory()
    users = [UserFactory() for _ in range(16)]

    def add(user: User) -> Callable[[], Any]:
        body = {
            "Operations": [{"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}]
        }
        return lambda: ScimClient(scim_token).patch(f"/Groups/{role.pk}", body)

    responses = _at_once([add(u) for u in users])

    assert [r.status_code for r in responses] == [204] * 16
    assert set(RoleMembership.objects.filter(role=role).values_list("user_id", flat=True)) == {
        u.pk for u in users
    }
    role.refresh_from_db()
    assert role.version == 17  # one version per effective change, none lost


def test_a_failed_user_patch_changes_nothing(scim_token):
    user = UserFactory(username="keep@example.com", title="Before")
    before = AuditEvent.objects.count()

    response = ScimClient(scim_token).patch(
        f"/Users/{user.pk}",
        {
            "Operations": [
                {"op": "replace", "path": "title", "value": "After"},
                {"op": "replace", "path": "emails", "value": [{"value": "not-an-email"}]},
            ]
        },
    )

    assert response.status_code == 400
    user.refresh_from_db()
    assert (user.title, user.version) == ("Before", 1)
    assert AuditEvent.objects.count() == before


def test_a_failed_group_patch_changes_nothing(scim_token):
    role = RoleFactory(display_name="Stable")
    member = UserFactory()

    response = ScimClient(scim_token).patch(
        f"/Groups/{role.pk}",
        {
            "Operations": [
                {"op": "replace", "value": {"displayName": "Renamed"}},
                {"op": "add", "path": "members", "value": [{"value": str(member.pk)}]},
                {"op": "add", "path": "members", "value": [{"value": "not-a-uuid"}]},
            ]
        },
    )

    assert response.status_code == 400
    role = Role.objects.get(pk=role.pk)
    assert (role.display_name, role.version) == ("Stable", 1)
    assert not RoleMembership.objects.filter(role=role).exists()
