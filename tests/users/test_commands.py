import pytest
from django.core.management import CommandError, call_command

from users.models import AuditEvent, CustomField, User

pytestmark = pytest.mark.django_db


def test_custom_field_add_defines_once_and_is_idempotent(capsys):
    call_command("custom_field", "add", "persona", "--type", "string", "--label", "Persona")
    call_command("custom_field", "add", "persona", "--type", "string", "--label", "Persona")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Defined custom field persona (string): Persona",
        "Already defined custom field persona (string): Persona",
    ]
    assert CustomField.objects.get().label == "Persona"
    assert AuditEvent.objects.filter(action="custom_field.defined").count() == 1


def test_custom_field_add_refuses_a_type_change():
    call_command("custom_field", "add", "start", "--type", "date")
    with pytest.raises(CommandError, match="exists with type date; its type cannot change"):
        call_command("custom_field", "add", "start", "--type", "number")


def test_custom_field_add_refuses_a_bad_key():
    with pytest.raises(CommandError, match="start with a letter"):
        call_command("custom_field", "add", "9lives", "--type", "string")


def test_custom_field_list(capsys):
    call_command("custom_field", "add", "location", "--type", "list")
    capsys.readouterr()
    call_command("custom_field", "list")
    assert capsys.readouterr().out == "location\tlist\tLocation\n"


def test_ensure_admin_creates_one_admin_with_a_password_shown_once(capsys):
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(password)
    call_command("ensure_admin")
    assert "not creating another" in capsys.readouterr().out
    assert User.objects.filter(is_superuser=True).count() == 1


def _created_admin(capsys) -> tuple[User, str]:
    call_command("ensure_admin")
    password = capsys.readouterr().out.split("password: ")[1].split()[0]
    return User.objects.get(username="admin"), password


def test_ensure_admin_reset_gives_a_locked_out_admin_back(capsys, client):
    from users.services import Actor, user_deactivate

    admin, old_password = _created_admin(capsys)
    user_deactivate(user=admin, actor=Actor.admin("other-admin"), reason="locked out")

    call_command("ensure_admin", "--reset", "ADMIN")

    lines = capsys.readouterr().out.splitlines()
    new_password = lines[-1]
    assert new_password.strip() == new_password and " " not in new_password
    assert "shown only this once" in "\n".join(lines[:-1])
    admin.refresh_from_db()
    assert admin.is_active and admin.is_staff and admin.is_superuser
    assert admin.check_password(new_password) and not admin.check_password(old_password)
    assert client.login(username="admin", password=new_password)
    assert client.get("/admin/").status_code == 200
    actions = set(
        AuditEvent.objects.filter(target_id=str(admin.pk), actor_kind="system").values_list(
            "action", flat=True
        )
    )
    assert {"user.reactivated", "user.password_changed"} <= actions


def test_ensure_admin_reset_prints_a_new_password_each_time(capsys):
    _created_admin(capsys)
    call_command("ensure_admin", "--reset", "admin")
    first = capsys.readouterr().out.splitlines()[-1]
    call_command("ensure_admin", "--reset", "admin")
    second = capsys.readouterr().out.splitlines()[-1]
    assert first != second
    assert User.objects.get(username="admin").check_password(second)


@pytest.mark.parametrize("kind", ["missing", "provisioned", "not_superuser"])
def test_ensure_admin_reset_touches_only_a_local_superuser(kind):
    from tests.factories import UserFactory
    from users.models import Source

    if kind == "provisioned":
        UserFactory(username="ann", source=Source.SCIM, is_superuser=True, is_active=False)
    elif kind == "not_superuser":
        UserFactory(username="ann", source=Source.ADMIN, is_staff=True, is_active=False)

    with pytest.raises(CommandError, match="No local admin account 'ann'"):
        call_command("ensure_admin", "--reset", "ann")
    assert not User.objects.filter(username="ann", is_active=True).exists()
