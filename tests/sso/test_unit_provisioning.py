"""Provisioning from a verified login (no XML here): lookup, JIT, updates, roles, dates."""

from __future__ import annotations

import datetime as dt

import pytest

from sso.mapping import attribute_map_merge
from sso.models import IdentityProvider, SamlIdentity
from sso.provisioning import user_provision_from_login, user_roles_from_login
from sso.refusals import SamlRefused
from tests.factories import CustomFieldFactory, RoleFactory, RoleMembershipFactory, UserFactory
from users.models import RoleMembership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp():
    return IdentityProvider.objects.create(
        slug="onelogin",
        entity_id="https://app.onelogin.com/saml/metadata/1",
        sso_url="https://acme.onelogin.com/sso",
        signing_certificates=["MIIB"],
        attribute_map=attribute_map_merge(None),
    )


def provision(idp, name_id="ann@example.com", **attributes):
    result = user_provision_from_login(idp=idp, name_id=name_id, attributes=attributes)
    user_roles_from_login(idp=idp, result=result)
    return result


def _roles(user, source="saml:onelogin"):
    return sorted(
        RoleMembership.objects.filter(user=user, source=source).values_list(
            "role__display_name", flat=True
        )
    )


def test_first_login_creates_the_user_with_mapped_attributes(idp):
    CustomFieldFactory(key="persona", type="string")

    result = provision(
        idp,
        **{
            "User.email": ["ann@example.com"],
            "User.FirstName": ["Ann"],
            "User.LastName": ["Lee"],
            "hireDate": ["3/1/2024"],
            "persona": ["engineer"],
            "memberOf": ["Engineering;Managers"],
        },
    )

    user = result.user
    assert result.created is True
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "ann@example.com",
        "ann@example.com",
        "Ann",
        "Lee",
    )
    assert user.source == "saml"
    assert user.hire_date == dt.date(2024, 3, 1)
    assert user.custom == {"persona": "engineer"}
    assert _roles(user) == ["Engineering", "Managers"]
    assert SamlIdentity.objects.filter(idp=idp, name_id="ann@example.com", user=user).exists()


def test_iso_hire_date_is_read_and_an_unreadable_one_is_skipped(idp):
    assert provision(idp, hireDate=["2024-03-01T00:00:00Z"]).user.hire_date == dt.date(2024, 3, 1)

    result = provision(idp, hireDate=["next tuesday"])

    assert result.user.hire_date == dt.date(2024, 3, 1)
    assert result.ignored == {
        "hire_date": "hire_date: 'next tuesday' is not a date (use YYYY-MM-DD)"
    }


def test_role_sync_removes_roles_the_idp_no_longer_sends_and_keeps_other_sources(idp):
    user = provision(idp, memberOf=["Engineering", "Berlin"]).user
    manual = RoleFactory(display_name="Admins")
    RoleMembershipFactory(role=manual, user=user, source="manual")
    RoleMembershipFactory(role=manual, user=user, source="scim")

    result = provision(idp, memberOf=["Engineering"])

    assert result.roles_removed == {"Berlin"}
    assert _roles(user) == ["Engineering"]
    assert _roles(user, "manual") == ["Admins"]
    assert _roles(user, "scim") == ["Admins"]


def test_manager_is_found_by_email(idp):
    boss = UserFactory(username="boss", email="boss@example.com")

    assert provision(idp, manager=["boss@example.com"]).user.manager_id == boss.pk


def test_nameid_comparison_is_exact(idp):
    ann = provision(idp, name_id="ann@example.com").user

    # Not matched to Ann's identity; the new account it would need clashes with her
    # (case-insensitive) username, so the login is refused rather than merged.
    with pytest.raises(SamlRefused) as caught:
        provision(idp, name_id="ANN@example.com")

    assert caught.value.reason == "account_not_linked"
    assert list(SamlIdentity.objects.values_list("name_id", "user_id")) == [
        ("ann@example.com", ann.pk)
    ]


def test_deactivated_user_is_refused_and_never_reactivated(idp):
    user = provision(idp).user
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(SamlRefused) as caught:
        provision(idp)

    assert caught.value.reason == "user_inactive"
    assert User.objects.get(pk=user.pk).is_active is False


def test_without_jit_an_unknown_user_is_refused(idp):
    idp.jit_create = False

    with pytest.raises(SamlRefused) as caught:
        provision(idp)

    assert caught.value.reason == "jit_disabled"
    assert not User.objects.exists()


def test_link_by_email_attaches_an_existing_account_only_when_allowed(idp):
    existing = UserFactory(username="ann", email="ann@example.com")

    separate = provision(idp, name_id="00u1abc", **{"User.email": ["ann@example.com"]})
    assert (separate.created, separate.user.pk != existing.pk) == (True, True)

    idp.link_by_email = True
    result = provision(idp, name_id="00u9xyz", **{"User.email": ["ann@example.com"]})

    assert (result.user.pk, result.linked_by, result.created) == (existing.pk, "email", False)
    assert SamlIdentity.objects.get(idp=idp, name_id="00u9xyz").user_id == existing.pk


def _repeat_login_queries(idp, name_id, roles, django_assert_max_num_queries):
    attributes = {
        "memberOf": roles,
        "User.FirstName": ["Ann"],
        "title": ["Dev"],
        "department": ["R&D"],
    }
    provision(idp, name_id=name_id, **attributes)
    # The first login's audit rows are written behind (axero_idp.db): send them now, so
    # they do not ride with the measured login's first statement.
    User.objects.exists()
    with django_assert_max_num_queries(100) as captured:
        provision(idp, name_id=name_id, **attributes)
    return [q["sql"] for q in captured.captured_queries]


def test_a_repeat_login_costs_the_same_for_3_or_30_roles_and_writes_nothing(
    idp, django_assert_max_num_queries
):
    few = _repeat_login_queries(
        idp, "a@example.com", ["R1", "R2", "R3"], django_assert_max_num_queries
    )
    many = _repeat_login_queries(
        idp, "b@example.com", [f"Role {n}" for n in range(30)], django_assert_max_num_queries
    )

    assert len(few) == len(many)
    writes = [
        q for q in many if q.startswith(("INSERT", "DELETE")) or q.startswith('UPDATE "users_user"')
    ]
    assert writes == []


def test_role_sync_audits_each_changed_role_and_announces_the_users_change_once(
    idp, django_capture_on_commit_callbacks
):
    from users import events
    from users.models import AuditEvent, Role

    seen = []
    events.subscribe(events.UserRolesChanged, seen.append)
    try:
        user = provision(idp, memberOf=["Engineering", "Berlin"]).user
        berlin = Role.objects.get(display_name="Berlin")
        version = berlin.version
        with django_capture_on_commit_callbacks(execute=True):
            provision(idp, memberOf=["Engineering", "Paris"])
    finally:
        events.unsubscribe(events.UserRolesChanged, seen.append)

    paris = Role.objects.get(display_name="Paris")
    removed = AuditEvent.objects.get(action="role.members_removed", target_id=str(berlin.pk))
    assert removed.detail == {"source": "saml:onelogin", "count": 1, "user_ids": [str(user.pk)]}
    assert removed.actor_name == "onelogin"
    assert (
        AuditEvent.objects.filter(action="role.members_added", target_id=str(paris.pk)).count() == 1
    )
    # The SCIM ETag moves only with SCIM-granted members, not with a login's role sync.
    assert Role.objects.get(pk=berlin.pk).version == version
    assert seen == [
        events.UserRolesChanged(
            user_id=user.pk,
            source="saml:onelogin",
            added=frozenset({paris.pk}),
            removed=frozenset({berlin.pk}),
        )
    ]


def test_an_over_long_role_name_is_skipped_not_fatal(idp):
    result = provision(idp, memberOf=["Engineering", "x" * 256])

    assert _roles(result.user) == ["Engineering"]
    assert result.ignored == {"roles": "role names longer than 255 characters were skipped"}


@pytest.mark.parametrize(
    "ref",
    ["boss@example.com", "BOSS@example.com"],
)
def test_a_repeat_login_naming_the_same_manager_writes_no_user_row(
    idp, ref, django_assert_max_num_queries
):
    boss = UserFactory(username="boss", email="boss@example.com")
    first = provision(idp, **{"User.email": ["ann@example.com"], "manager": [ref]})
    assert first.user.manager_id == boss.pk

    with django_assert_max_num_queries(100) as captured:
        again = provision(idp, **{"User.email": ["ann@example.com"], "manager": [ref]})

    assert again.user.manager_id == boss.pk
    assert not [q for q in captured.captured_queries if q["sql"].startswith('UPDATE "users_user"')]


def test_a_repeat_login_moves_the_person_when_the_ref_now_names_someone_else_first(idp):
    # The ref equals the current manager's user name, but an email (tried first for
    # SAML) now names another person: resolved again, the person moves.
    old = UserFactory(username="lead@example.com", email="old-lead@example.com")
    result = provision(idp, **{"User.email": ["ann@example.com"], "manager": ["lead@example.com"]})
    assert result.user.manager_id == old.pk
    new = UserFactory(username="new-lead", email="lead@example.com")

    again = provision(idp, **{"User.email": ["ann@example.com"], "manager": ["lead@example.com"]})

    again.user.refresh_from_db()
    assert again.user.manager_id == new.pk


def test_a_manager_attribute_never_names_a_local_account(idp):
    User.objects.create_superuser("admin", "long-password-1", email="boss@example.com")

    result = provision(idp, **{"User.email": ["ann@example.com"], "manager": ["boss@example.com"]})

    user = User.objects.get(pk=result.user.pk)
    assert (user.manager_id, user.pending_manager_ref) == (None, "boss@example.com")
