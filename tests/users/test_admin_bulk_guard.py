"""Bulk actions check each selected account as the change form does (issue 8, finding
12): staff without superuser rights never deactivate, reactivate or delete a
superuser by ticking it in the user list."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from tests.factories import UserFactory
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def helpdesk(client):
    """Staff with every user permission, but no superuser rights."""
    staff = UserFactory(username="helpdesk@example.com", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="users",
            codename__in=["view_user", "change_user", "delete_user"],
        )
    )
    client.force_login(staff)
    return client


def _action(client, action: str, users: list[User], **extra: str):
    data = {"action": action, "_selected_action": [str(u.pk) for u in users], **extra}
    return client.post("/admin/users/user/", data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("confirm", [{}, {"confirm": "yes"}], ids=["ask", "confirmed"])
def test_staff_cannot_deactivate_a_superuser_through_the_bulk_action(helpdesk, admin_user, confirm):
    employee = UserFactory(username="ann@example.com")

    response = _action(helpdesk, "deactivate_selected", [admin_user, employee], **confirm)

    assert response.status_code == 200
    assert _messages(response) == [
        "You may not deactivate root: only a superuser may change a superuser. Nothing was changed."
    ]
    admin_user.refresh_from_db()
    employee.refresh_from_db()
    assert admin_user.is_active and employee.is_active
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_staff_cannot_reactivate_a_superuser_an_admin_deactivated(helpdesk, admin_user):
    User.objects.filter(pk=admin_user.pk).update(is_active=False, deactivated_by="admin")

    response = _action(helpdesk, "reactivate_selected", [admin_user], confirm="yes")

    assert "You may not reactivate root" in _messages(response)[0]
    assert not User.objects.get(pk=admin_user.pk).is_active


def test_staff_cannot_delete_a_superuser_through_the_bulk_action(helpdesk, admin_user):
    response = _action(helpdesk, "delete_selected", [admin_user], post="yes")

    assert response.status_code in (200, 403)
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_staff_still_deactivate_ordinary_accounts(helpdesk):
    employee = UserFactory(username="ann@example.com")

    response = _action(helpdesk, "deactivate_selected", [employee], confirm="yes")

    assert _messages(response) == ["Deactivated 1 user(s)."]
    employee.refresh_from_db()
    assert not employee.is_active


def test_a_superuser_may_deactivate_another_superuser(admin_client):
    other = User.objects.create_superuser("root2", "long-password-2")

    _action(admin_client, "deactivate_selected", [other], confirm="yes")

    other.refresh_from_db()
    assert not other.is_active
