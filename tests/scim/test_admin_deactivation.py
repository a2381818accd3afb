"""An admin's deactivation holds against the identity provider (issue 8, finding 4):
a SCIM `active: true` does not undo it until an admin reactivates the account or ticks
"identity provider may reactivate". The SCIM request itself succeeds (its other
changes apply) and answers `active: false`; the refusal is in the audit trail."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def employee() -> User:
    return UserFactory(username="ann@example.com", email="ann@example.com")


def _admin_action(client, action: str, user: User) -> None:
    response = client.post(
        "/admin/users/user/",
        {"action": action, "_selected_action": [str(user.pk)], "confirm": "yes"},
    )
    assert response.status_code == 302


def _reactivate_by_scim(scim, user: User):
    return scim.patch(
        f"/Users/{user.pk}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )


def _allow_in_admin(client, user: User, allowed: bool) -> None:
    page = client.get(f"/admin/users/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update({"groups": [], "user_permissions": [], "idp_may_reactivate": allowed})
    data = {k: v for k, v in data.items() if v not in (None, False)}
    response = client.post(f"/admin/users/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_scim_patch_active_true_does_not_undo_an_admin_deactivation(admin_client, scim, employee):
    _admin_action(admin_client, "deactivate_selected", employee)

    response = _reactivate_by_scim(scim, employee)

    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    employee.refresh_from_db()
    assert (employee.is_active, employee.deactivated_by) == (False, "admin")
    refused = AuditEvent.objects.get(action="user.reactivation_refused")
    assert (refused.actor_kind, refused.target_id) == ("scim", str(employee.pk))
    assert not AuditEvent.objects.filter(action="user.reactivated").exists()


def test_scim_put_applies_its_other_changes_but_keeps_the_account_deactivated(
    admin_client, scim, employee
):
    _admin_action(admin_client, "deactivate_selected", employee)

    response = scim.put(
        f"/Users/{employee.pk}",
        {
            "schemas": [USER_SCHEMA],
            "userName": employee.username,
            "title": "Lead",
            "active": True,
        },
    )

    assert response.status_code == 200, response.content
    assert (response.json()["active"], response.json()["title"]) == (False, "Lead")
    employee.refresh_from_db()
    assert (employee.is_active, employee.title) == (False, "Lead")


def test_the_allow_flag_lets_the_idp_reactivate(admin_client, scim, employee):
    _admin_action(admin_client, "deactivate_selected", employee)
    _allow_in_admin(admin_client, employee, True)
    employee.refresh_from_db()
    assert employee.idp_may_reactivate is True
    assert AuditEvent.objects.filter(
        action="user.idp_reactivation_allowed", actor_kind="admin"
    ).exists()

    response = _reactivate_by_scim(scim, employee)

    assert response.json()["active"] is True
    employee.refresh_from_db()
    assert (employee.is_active, employee.deactivated_by, employee.idp_may_reactivate) == (
        True,
        "",
        False,
    )


def test_after_an_admin_reactivation_scim_manages_the_state_again(admin_client, scim, employee):
    _admin_action(admin_client, "deactivate_selected", employee)
    _admin_action(admin_client, "reactivate_selected", employee)
    deactivated = scim.patch(
        f"/Users/{employee.pk}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    assert deactivated.json()["active"] is False

    assert _reactivate_by_scim(scim, employee).json()["active"] is True


def test_a_scim_deactivation_is_undone_by_scim(scim, employee):
    scim.patch(
        f"/Users/{employee.pk}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    employee.refresh_from_db()
    assert employee.deactivated_by == "scim"

    assert _reactivate_by_scim(scim, employee).json()["active"] is True
