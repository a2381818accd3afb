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
