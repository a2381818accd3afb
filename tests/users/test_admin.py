import pytest
from django.contrib.auth.models import Permission

from tests.factories import CustomFieldFactory, RoleFactory, RoleMembershipFactory, UserFactory
from users.models import AuditEvent, CustomField, RoleMembership, User

pytestmark = pytest.mark.django_db


def action_post(client, action, users, **extra):
    data = {"action": action, "_selected_action": [str(u.pk) for u in users], **extra}
    return client.post("/admin/users/user/", data)


def test_user_changelist_searches_and_filters(admin_client):
    UserFactory(username="ada@example.com", employee_number="E-77", department="R&D")
    UserFactory(username="bob@example.com", is_active=False)
    response = admin_client.get("/admin/users/user/", {"q": "E-77"})
    assert response.status_code == 200
    assert b"ada@example.com" in response.content
    assert b"bob@example.com" not in response.content
    response = admin_client.get("/admin/users/user/", {"is_active__exact": "0"})
    assert b"bob@example.com" in response.content and b"ada@example.com" not in response.content


def test_user_changelist_filters_by_role(admin_client):
    role = RoleFactory(display_name="Engineering")
    member = UserFactory(username="member@example.com")
    UserFactory(username="other@example.com")
    RoleMembershipFactory(role=role, user=member, source="scim")
    RoleMembershipFactory(role=role, user=member, source="manual")
    response = admin_client.get("/admin/users/user/", {"role": str(role.pk)})
    assert response.status_code == 200
    assert response.content.count(b"member@example.com") >= 1
    assert b"other@example.com" not in response.content


def test_deactivate_action_asks_for_confirmation_first(admin_client):
    user = UserFactory(username="leaver@example.com")
    response = action_post(admin_client, "deactivate_selected", [user])
    assert response.status_code == 200
    assert b"You are about to <strong>deactivate</strong> 1 user(s)" in response.content
    user.refresh_from_db()
    assert user.is_active


def test_deactivate_action_confirmed_deactivates_with_reason(admin_client, admin_user):
    user = UserFactory(username="leaver@example.com")
    response = action_post(
        admin_client, "deactivate_selected", [user], confirm="yes", reason="offboarding #12"
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    event = AuditEvent.objects.get(action="user.deactivated")
    assert (event.actor_kind, event.actor_name, event.detail) == (
        "admin",
        "root",
        {"reason": "offboarding #12"},
    )


def test_reactivate_action_confirmed_reactivates(admin_client):
    user = UserFactory(is_active=False)
    action_post(admin_client, "reactivate_selected", [user], confirm="yes")
    user.refresh_from_db()
    assert user.is_active


def test_admin_edit_goes_through_the_service_and_is_audited(admin_client):
    boss = UserFactory(username="boss@example.com")
    CustomFieldFactory(key="persona", label="Persona", type="string")
    user = UserFactory(username="edit@example.com", first_name="Old", last_name="Name")
    page = admin_client.get(f"/admin/users/user/{user.pk}/change/")
    assert page.status_code == 200
    assert b"Custom profile fields" in page.content
    form = page.context["adminform"].form
    data = {
        name: form.initial.get(name) or ""
        for name in form.fields
        if name not in form._meta.exclude or []
    }
    data.update(
        {
            "username": "edit@example.com",
            "first_name": "New",
            "last_name": "Name",
            "email": user.email,
            "manager": str(boss.pk),
            "custom__persona": "Engineer",
            "groups": [],
            "user_permissions": [],
        }
    )
    data = {k: v for k, v in data.items() if v is not None}
    response = admin_client.post(f"/admin/users/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.first_name, user.manager, user.custom) == ("New", boss, {"persona": "Engineer"})
    event = AuditEvent.objects.get(action="user.updated", target_id=str(user.pk))
    assert event.actor_name == "root"
    assert event.detail["changes"]["first_name"] == ["Old", "New"]
    assert event.detail["changes"]["manager"] == [None, str(boss.pk)]


def test_admin_add_user_refuses_a_case_variant_username(admin_client):
    UserFactory(username="dup@example.com")
    response = admin_client.post(
        "/admin/users/user/add/",
        {
            "username": "DUP@example.com",
            "usable_password": "false",
            "password1": "",
            "password2": "",
        },
    )
    assert response.status_code == 200
    assert "exists already (user names ignore case)" in str(
        response.context["adminform"].form.errors
    )
    assert User.objects.filter(username__iexact="dup@example.com").count() == 1


def test_admin_add_user_creates_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/users/user/add/",
        {
            "username": "new@example.com",
            "usable_password": "false",
            "password1": "",
            "password2": "",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="new@example.com")
    assert user.source == "admin"
    assert not user.has_usable_password()
    assert AuditEvent.objects.filter(action="user.created", target_id=str(user.pk)).exists()


def test_staff_without_permission_cannot_change_users(client):
    staff = UserFactory(username="staff@example.com", is_staff=True)
    victim = UserFactory(username="victim@example.com", first_name="Same")
    client.force_login(staff)
    assert client.get(f"/admin/users/user/{victim.pk}/change/").status_code == 403
    response = client.post(
        f"/admin/users/user/{victim.pk}/change/", {"username": "x", "first_name": "Hacked"}
    )
    assert response.status_code == 403
    assert action_post(client, "deactivate_selected", [victim], confirm="yes").status_code == 403
    victim.refresh_from_db()
    assert victim.first_name == "Same" and victim.is_active


def test_staff_with_change_permission_cannot_grant_superuser_or_edit_superusers(client, admin_user):
    staff = UserFactory(username="helpdesk@example.com", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_user", "view_user"])
    )
    client.force_login(staff)
    page = client.get(f"/admin/users/user/{staff.pk}/change/")
    assert page.status_code == 200
    assert "is_superuser" not in page.context["adminform"].form.fields
    # The superuser's page is view-only for them; a posted change is refused.
    response = client.post(
        f"/admin/users/user/{admin_user.pk}/change/", {"username": "root", "first_name": "Owned"}
    )
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.first_name == ""


def test_role_admin_shows_member_count_and_links_to_paginated_members(admin_client):
    role = RoleFactory(display_name="Big")
    for _ in range(3):
        RoleMembershipFactory(role=role)
    listing = admin_client.get("/admin/users/role/")
    assert b"Big" in listing.content
    page = admin_client.get(f"/admin/users/role/{role.pk}/change/")
    assert page.status_code == 200
    assert b"3 member(s): view, search, add or remove" in page.content
    members = admin_client.get("/admin/users/rolemembership/", {"role__id__exact": str(role.pk)})
    assert members.status_code == 200
    assert members.context["cl"].result_count == 3


def test_membership_added_in_admin_is_manual_and_audited(admin_client):
    role = RoleFactory()
    user = UserFactory()
    response = admin_client.post(
        "/admin/users/rolemembership/add/", {"role": str(role.pk), "user": str(user.pk)}
    )
    assert response.status_code == 302
    membership = RoleMembership.objects.get(role=role, user=user)
    assert membership.source == "manual"
    assert AuditEvent.objects.get(action="role.members_added").actor_kind == "admin"


def test_role_admin_rename_to_taken_name_is_a_form_error_not_a_500(admin_client):
    RoleFactory(display_name="Taken")
    role = RoleFactory(display_name="Mine")
    response = admin_client.post(
        f"/admin/users/role/{role.pk}/change/", {"display_name": "TAKEN", "external_id": ""}
    )
    assert response.status_code == 200
    assert "A role with this name exists already (names ignore case)." in str(
        response.context["adminform"].form.errors
    )
    role.refresh_from_db()
    assert role.display_name == "Mine"


def test_custom_field_admin_defines_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/users/customfield/add/", {"key": "location", "label": "Location", "type": "string"}
    )
    assert response.status_code == 302
    assert CustomField.objects.get(key="location").type == "string"
    assert AuditEvent.objects.filter(action="custom_field.defined", target_id="location").exists()


def test_audit_log_is_read_only_in_admin(admin_client):
    UserFactory()
    assert admin_client.get("/admin/users/auditevent/").status_code == 200
    assert admin_client.get("/admin/users/auditevent/add/").status_code == 403


def test_password_change_in_admin_is_audited(admin_client):
    user = UserFactory(username="pw@example.com")
    response = admin_client.post(
        f"/admin/users/user/{user.pk}/password/",
        {
            "usable_password": "true",
            "password1": "a-Long-new-passphrase-9",
            "password2": "a-Long-new-passphrase-9",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-Long-new-passphrase-9")
    event = AuditEvent.objects.get(action="user.password_changed")
    assert (event.target_id, event.actor_name, event.detail) == (
        str(user.pk),
        "root",
        {"usable": True},
    )


def test_a_service_refusal_in_admin_is_a_message_not_a_500(admin_client):
    user = UserFactory(username="self@example.com", first_name="Same")
    page = admin_client.get(f"/admin/users/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"username": "self@example.com", "first_name": "Changed", "manager": str(user.pk)})
    data = {
        k: v for k, v in data.items() if k not in ("groups", "user_permissions") and v is not None
    }
    response = admin_client.post(f"/admin/users/user/{user.pk}/change/", data)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/users/user/{user.pk}/change/"
    user.refresh_from_db()
    assert (user.first_name, user.manager) == ("Same", None)  # rolled back whole
    follow = admin_client.get(response["Location"])
    assert [str(m) for m in follow.context["messages"]] == [
        "manager: a user cannot be their own manager"
    ]
