"""Group cost does not grow with the group: counted queries on a large group."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import RoleFactory, UserFactory
from users.models import RoleMembership, User

pytestmark = pytest.mark.django_db


def _group_with_members(count: int):
    role = RoleFactory()
    now = timezone.now()
    users = User.objects.bulk_create(
        [
            User(username=f"m{n}-{uuid.uuid4().hex[:6]}@example.com", created_at=now)
            for n in range(count)
        ]
    )
    RoleMembership.objects.bulk_create(
        [RoleMembership(role=role, user=u, source="scim") for u in users]
    )
    return role


def _queries(scim, method: str, path: str, body=None) -> tuple[object, list[str]]:
    # Warm up first: a token's first request of the minute also records its last use.
    scim.get("/ServiceProviderConfig")
    with CaptureQueriesContext(connection) as ctx:
        response = scim.request(method, path, body)
    return response, [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("size", [10, 2000])
def test_group_get_reads_members_in_one_query_whatever_the_size(scim, size):
    role = _group_with_members(size)

    response, queries = _queries(scim, "GET", f"/Groups/{role.pk}")

    assert len(response.json()["members"]) == size
    membership_queries = [q for q in queries if "users_rolemembership" in q]
    assert len(membership_queries) == 1
    assert "JOIN" not in membership_queries[0]


def test_group_get_costs_the_same_number_of_queries_for_10_and_2000_members(scim):
    small, large = _group_with_members(10), _group_with_members(2000)

    _, small_queries = _queries(scim, "GET", f"/Groups/{small.pk}")
    _, large_queries = _queries(scim, "GET", f"/Groups/{large.pk}")

    assert len(small_queries) == len(large_queries)


def test_excluded_members_never_touch_the_membership_table(scim):
    role = _group_with_members(50)

    response, queries = _queries(scim, "GET", f"/Groups/{role.pk}?excludedAttributes=members")
    listed, list_queries = _queries(scim, "GET", "/Groups?excludedAttributes=members")

    assert "members" not in response.json()
    assert not [q for q in queries if "users_rolemembership" in q]
    assert not [q for q in list_queries if "users_rolemembership" in q]
    assert listed.json()["totalResults"] == 1


def test_member_patch_costs_the_same_for_a_small_and_a_large_group(scim):
    small, large = _group_with_members(10), _group_with_members(2000)
    newcomer = UserFactory()
    body = {
        "Operations": [{"op": "add", "path": "members", "value": [{"value": str(newcomer.pk)}]}]
    }
    remove = {"Operations": [{"op": "remove", "path": f'members[value eq "{newcomer.pk}"]'}]}

    counts = []
    for role in (small, large):
        added, add_queries = _queries(scim, "PATCH", f"/Groups/{role.pk}", body)
        removed, remove_queries = _queries(scim, "PATCH", f"/Groups/{role.pk}", remove)
        assert (added.status_code, removed.status_code) == (204, 204)
        counts.append((len(add_queries), len(remove_queries)))
        # No query reads the whole member list: every membership query names the user.
        for sql in add_queries + remove_queries:
            if "users_rolemembership" in sql and sql.lstrip().upper().startswith("SELECT"):
                assert "user_id" in sql
                assert "IN" in sql.upper()

    assert counts[0] == counts[1]


def test_creating_a_user_reads_no_custom_field_definitions_unless_it_names_one(scim):
    _, plain = _queries(scim, "POST", "/Users", {"userName": "plain@example.com"})
    _, custom = _queries(
        scim,
        "POST",
        "/Users",
        {
            "userName": "c@example.com",
            "urn:ietf:params:scim:schemas:extension:axero:2.0:User": {"x": "1"},
        },
    )

    assert not [q for q in plain if "users_customfield" in q]
    assert [q for q in custom if "users_customfield" in q]
