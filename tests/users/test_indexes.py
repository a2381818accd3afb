"""The directory's hot look-ups are served by indexes, checked with EXPLAIN on PostgreSQL."""

import pytest
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower

from users.models import Role, RoleMembership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_users():
    users = User.objects.bulk_create(
        [
            User(username=f"person{i}@example.com", email=f"person{i}@example.com")
            for i in range(3000)
        ]
    )
    role = Role.objects.create(display_name="Everyone")
    Role.objects.bulk_create([Role(display_name=f"Team {i}") for i in range(2000)])
    RoleMembership.objects.bulk_create(
        [RoleMembership(role=role, user=u, source="scim") for u in users]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users_user; ANALYZE users_rolemembership; ANALYZE users_role")
    return users, role


def plan(queryset):
    return queryset.explain()


def test_username_lookup_uses_the_lower_index(many_users):
    assert "users_user_username_ci_unique" in plan(
        User.objects.filter(username__ci="PERSON7@example.com")
    )


def test_email_lookup_uses_the_lower_index(many_users):
    assert "users_user_email_ci_idx" in plan(User.objects.filter(email__ci="Person7@Example.com"))


def test_role_name_lookup_uses_the_lower_index(many_users):
    assert "users_role_name_ci_unique" in plan(Role.objects.filter(display_name__ci="everyone"))


def test_is_member_uses_the_membership_key(many_users):
    users, role = many_users
    text = plan(RoleMembership.objects.filter(role=role, user=users[5]))
    assert "Index" in text
    assert "Seq Scan" not in text


def test_waiting_reports_lookup_uses_the_partial_index(many_users):
    query = (
        User.objects.exclude(pending_manager_ref="")
        .annotate(ref=Lower("pending_manager_ref"))
        .filter(~Q(pk=many_users[0][0].pk), ref__in=["boss@example.com", "ext-1"])
    )
    assert "users_user_pending_mgr_idx" in plan(query)
