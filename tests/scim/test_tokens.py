"""Provisioning tokens: the management command, hashing, last use, revocation."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from axero_idp import rawsql
from scim.auth import token_authenticate
from scim.models import ScimToken
from tests.factories import UserFactory
from users.models import Connection, User

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("scim_token", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_raw_token_alone_on_the_last_line_and_stores_only_its_hash():
    output = _run("create", "--name", "OneLogin")

    raw = output.strip().splitlines()[-1]
    token = ScimToken.objects.get(name="OneLogin")
    assert raw.startswith("axscim_")
    assert len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.token_hash, token.prefix}
    assert token_authenticate(f"Bearer {raw}") == token


def test_create_twice_with_one_name_fails():
    _run("create", "--name", "dup")

    with pytest.raises(CommandError, match="a token named 'dup' already exists"):
        _run("create", "--name", "dup")


def test_list_shows_name_created_last_used_and_revoked():
    raw = _run("create", "--name", "okta").strip().splitlines()[-1]
    token_authenticate(f"Bearer {raw}")

    lines = _run("list").splitlines()

    assert lines[0].split() == ["name", "idp", "created", "last", "used", "revoked"]
    assert lines[1].startswith("okta ")
    assert lines[1].rstrip().endswith(" -")  # not revoked
    assert lines[1].count("UTC") == 2  # created and last used


def test_revoke_stops_the_token_at_once():
    raw = _run("create", "--name", "entra").strip().splitlines()[-1]

    output = _run("revoke", "entra")

    assert output == "Revoked SCIM token 'entra'.\n"
    assert token_authenticate(f"Bearer {raw}") is None
    assert ScimToken.objects.get(name="entra").revoked_at is not None


def test_revoke_unknown_name_fails():
    with pytest.raises(CommandError, match="no token named 'nobody'"):
        _run("revoke", "nobody")


def test_last_used_is_written_at_most_once_a_minute():
    raw = _run("create", "--name", "busy").strip().splitlines()[-1]
    token_authenticate(f"Bearer {raw}")
    first = ScimToken.objects.get(name="busy").last_used_at

    token_authenticate(f"Bearer {raw}")
    assert ScimToken.objects.get(name="busy").last_used_at == first

    ScimToken.objects.filter(name="busy").update(
        last_used_at=timezone.now() - dt.timedelta(minutes=2)
    )
    token_authenticate(f"Bearer {raw}")
    assert ScimToken.objects.get(name="busy").last_used_at > first


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Token abc", "bearer axscim_nope", "Bearer " + "x" * 500]
)
def test_malformed_headers_authenticate_nobody(header):
    _run("create", "--name", "t")

    assert token_authenticate(header) is None


def test_the_scheme_is_case_insensitive():
    raw = _run("create", "--name", "ci").strip().splitlines()[-1]

    assert token_authenticate(f"bearer {raw}") is not None


def test_the_authenticated_token_carries_every_column_as_the_orm_reads_it():
    connection = Connection.objects.create(slug="okta-main")
    raw = _run("create", "--name", "bound").strip().splitlines()[-1]
    ScimToken.objects.filter(name="bound").update(connection=connection)

    token = token_authenticate(f"Bearer {raw}")

    stored = ScimToken.objects.get(name="bound")
    assert token is not None and not token._state.adding
    assert token.connection_id == connection.pk
    fields = [f.attname for f in ScimToken._meta.concrete_fields if f.name != "last_used_at"]
    assert [getattr(token, f) for f in fields] == [getattr(stored, f) for f in fields]


def test_a_hand_written_read_applies_the_columns_database_converters():
    user = UserFactory(custom={"team": "blue"})
    sql = f"SELECT {rawsql.model_columns(User)} FROM {rawsql.table(User)} WHERE id = %s"  # noqa: S608

    found = rawsql.fetch_instance(User, sql, [user.pk])

    assert found == user and found.custom == {"team": "blue"}
    assert rawsql.fetch_instance(User, sql, [uuid.uuid4()]) is None
