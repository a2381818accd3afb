import threading
import uuid

import pytest
from django.db import connection

from axero_idp.errors import UniquenessConflict, ValidationFailed
from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from users import events
from users.models import AuditEvent, MembershipSource, Role, RoleMembership
from users.services import (
    Actor,
    role_create,
    role_delete,
    role_members_add,
    role_members_remove,
    role_members_replace,
    role_rename,
    user_roles_sync,
)

pytestmark = pytest.mark.django_db


def member_rows(role, source=None):
    query = RoleMembership.objects.filter(role=role)
    if source:
        query = query.filter(source=source)
    return sorted((m.user_id, m.source) for m in query)


def test_role_create_and_case_insensitive_uniqueness(actor):
    role = role_create(actor=actor, display_name="  Engineering ", external_id="ol-1")
    assert role.display_name == "Engineering"
    assert AuditEvent.objects.get(target_id=str(role.pk)).action == "role.created"
    with pytest.raises(UniquenessConflict, match="displayName 'ENGINEERING' is already taken"):
        role_create(actor=actor, display_name="ENGINEERING")
    with pytest.raises(ValidationFailed, match="displayName: required"):
        role_create(actor=actor, display_name="   ")


def test_role_rename_is_idempotent_and_checks_uniqueness(actor):
    role = RoleFactory(display_name="Sales")
    RoleFactory(display_name="Marketing")
    role_rename(role=role, actor=actor, display_name="Sales EMEA")
    role_rename(role=role, actor=actor, display_name="Sales EMEA")
    role.refresh_from_db()
    assert role.display_name == "Sales EMEA"
    assert role.version == 2
    assert AuditEvent.objects.filter(action="role.renamed").count() == 1
    with pytest.raises(UniquenessConflict):
        role_rename(role=role, actor=actor, display_name="marketing")


def test_members_add_is_insert_or_ignore(actor, committing):
    role = RoleFactory()
    a, b = UserFactory(), UserFactory()
    seen = []
    events.subscribe(events.RoleMembersChanged, seen.append)
    try:
        with committing():
            assert role_members_add(
                role=role, user_ids=[a.pk, b.pk], source="scim", actor=actor
            ) == {a.pk, b.pk}
            assert role_members_add(role=role, user_ids=[a.pk], source="scim", actor=actor) == set()
    finally:
        events.unsubscribe(events.RoleMembersChanged, seen.append)
    assert member_rows(role) == sorted([(a.pk, "scim"), (b.pk, "scim")])
    role.refresh_from_db()
    assert role.version == 2  # the repeat changed nothing
    [audit] = AuditEvent.objects.filter(action="role.members_added")
    assert audit.detail == {
        "source": "scim",
        "count": 2,
        "user_ids": sorted([str(a.pk), str(b.pk)]),
    }
    assert seen == [events.RoleMembersChanged(role_id=role.pk, added=frozenset({a.pk, b.pk}))]


def test_members_add_refuses_unknown_users_and_changes_nothing(actor):
    role = RoleFactory()
    a = UserFactory()
    ghost = uuid.uuid4()
    with pytest.raises(ValidationFailed, match=f"members: no such user: {ghost}"):
        role_members_add(role=role, user_ids=[a.pk, ghost], source="scim", actor=actor)
    assert member_rows(role) == []


def test_members_remove_only_touches_its_own_source(actor):
    role = RoleFactory()
    user = UserFactory()
    RoleMembershipFactory(role=role, user=user, source="scim")
    RoleMembershipFactory(role=role, user=user, source="manual")
    assert role_members_remove(role=role, user_ids=[user.pk], source="scim", actor=actor) == {
        user.pk
    }
    assert role_members_remove(role=role, user_ids=[user.pk], source="scim", actor=actor) == set()
    assert member_rows(role) == [(user.pk, "manual")]


def test_members_replace_keeps_other_sources(actor):
    role = RoleFactory()
    keep, drop, new, manual = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    RoleMembershipFactory(role=role, user=keep, source="scim")
    RoleMembershipFactory(role=role, user=drop, source="scim")
    RoleMembershipFactory(role=role, user=manual, source="manual")
    RoleMembershipFactory(role=role, user=drop, source="saml:onelogin")
    added, removed = role_members_replace(
        role=role, user_ids=[keep.pk, new.pk], source="scim", actor=actor
    )
    assert (added, removed) == ({new.pk}, {drop.pk})
    assert member_rows(role) == sorted(
        [(keep.pk, "scim"), (new.pk, "scim"), (manual.pk, "manual"), (drop.pk, "saml:onelogin")]
    )


def test_role_delete_removes_memberships_and_records_former_members(actor):
    role = RoleFactory(display_name="Temp")
    user = UserFactory()
    RoleMembershipFactory(role=role, user=user, source="scim")
    role_pk = role.pk
    role_delete(role=role, actor=actor)
    assert not Role.objects.filter(pk=role_pk).exists()
    assert not RoleMembership.objects.filter(role_id=role_pk).exists()
    audit = AuditEvent.objects.get(action="role.deleted")
    assert audit.detail == {
        "display_name": "Temp",
        "members": {"count": 1, "user_ids": [str(user.pk)]},
    }


def test_user_roles_sync_adds_removes_and_creates_roles_for_one_source(actor):
    user = UserFactory()
    old = RoleFactory(display_name="Old Team")
    kept = RoleFactory(display_name="Engineering")
    scim_role = RoleFactory(display_name="From SCIM")
    source = MembershipSource.saml("onelogin")
    RoleMembershipFactory(role=old, user=user, source=source)
    RoleMembershipFactory(role=kept, user=user, source=source)
    RoleMembershipFactory(role=scim_role, user=user, source="scim")
    added, removed = user_roles_sync(
        user=user,
        role_names=["engineering", "Brand New"],
        source=source,
        actor=Actor.idp("onelogin"),
    )
    assert (added, removed) == ({"Brand New"}, {"Old Team"})
    old.refresh_from_db()
    assert old.version == 1  # the SCIM ETag moves only with SCIM-granted members
    names = set(user.roles.values_list("display_name", flat=True))
    assert names == {"Engineering", "Brand New", "From SCIM"}
    # A repeat of the same login changes nothing.
    assert user_roles_sync(
        user=user,
        role_names=["Engineering", "Brand New"],
        source=source,
        actor=Actor.idp("onelogin"),
    ) == (set(), set())


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_adds_to_one_role_keep_every_member():
    role = RoleFactory()
    users = [UserFactory() for _ in range(16)]
    barrier = threading.Barrier(16)
    errors = []

    def add(user):
        try:
            barrier.wait(timeout=10)
            role_members_add(role=role, user_ids=[user.pk], source="scim", actor=Actor.scim("t"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert RoleMembership.objects.filter(role=role).count() == 16
    role.refresh_from_db()
    assert role.version == 17


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_of_one_role_name_give_one_role():
    barrier = threading.Barrier(2)
    outcomes = []

    def create(name):
        try:
            barrier.wait(timeout=10)
            role_create(actor=Actor.scim("t"), display_name=name)
            outcomes.append("created")
        except UniquenessConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in ("Finance", "FINANCE")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "created"]
    assert Role.objects.filter(display_name__iexact="finance").count() == 1


def test_user_roles_sync_cost_does_not_grow_with_the_roles_that_change(
    actor, django_assert_max_num_queries
):
    user = UserFactory()
    source = MembershipSource.saml("okta")
    names = [f"Team {i}" for i in range(30)]
    for name in names:
        RoleFactory(display_name=name)
    with django_assert_max_num_queries(12):
        assert user_roles_sync(user=user, role_names=names, source=source, actor=actor)[0] == set(
            names
        )
    with django_assert_max_num_queries(12):
        assert user_roles_sync(user=user, role_names=[], source=source, actor=actor)[1] == set(
            names
        )
    assert AuditEvent.objects.filter(action="role.members_added").count() == 30


def test_role_external_id_is_bounded_text(actor):
    with pytest.raises(ValidationFailed, match="externalId: longer than 255 characters"):
        role_create(actor=actor, display_name="Long", external_id="x" * 256)
    role = role_create(actor=actor, display_name="Ok", external_id="")
    assert role.external_id is None
    with pytest.raises(ValidationFailed, match="externalId: expected text"):
        role_rename(role=role, actor=actor, display_name="Ok", external_id=5)


def test_manual_membership_changes_leave_the_scim_version_alone(actor):
    role = RoleFactory()
    role_members_add(role=role, user_ids=[UserFactory().pk], source="manual", actor=actor)
    role.refresh_from_db()
    assert role.version == 1
    assert AuditEvent.objects.filter(action="role.members_added").count() == 1


def test_a_login_sync_that_adds_and_removes_roles_writes_the_memberships_in_one_statement(
    actor, django_assert_max_num_queries
):
    user = UserFactory()
    other = UserFactory()
    source = MembershipSource.saml("okta")
    for name in ("Old 1", "Old 2", "Kept", "New 1", "New 2"):
        RoleFactory(display_name=name)
    user_roles_sync(user=user, role_names=["Old 1", "Old 2", "Kept"], source=source, actor=actor)
    user_roles_sync(user=other, role_names=["Old 1"], source=source, actor=actor)
    scim_grant = RoleMembershipFactory(
        user=user, role=Role.objects.get(display_name="Old 1"), source=MembershipSource.SCIM
    )

    with django_assert_max_num_queries(12) as captured:
        added, removed = user_roles_sync(
            user=user, role_names=["Kept", "New 1", "New 2"], source=source, actor=actor
        )

    assert (added, removed) == ({"New 1", "New 2"}, {"Old 1", "Old 2"})
    writes = [q["sql"] for q in captured.captured_queries if "users_rolemembership" in q["sql"]]
    assert [w.split()[0] for w in writes] == ["SELECT", "WITH"]
    held = RoleMembership.objects.filter(user=user, source=source)
    assert sorted(held.values_list("role__display_name", flat=True)) == ["Kept", "New 1", "New 2"]
    assert all(m.created_at is not None for m in held)
    # Other people's and other sources' memberships stay.
    assert RoleMembership.objects.filter(pk=scim_grant.pk).exists()
    assert RoleMembership.objects.filter(user=other, source=source).count() == 1
