"""A provisioned user's INSERT is written by hand (users.services.reports: it carries
the waiting-reports probe in its round trip): it stores what the ORM's save() stores,
and the create still finds and links the reports waiting for the new user."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.models import F
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from axero_idp import rawsql
from tests.factories import UserFactory
from users.models import Source, User
from users.services import user_create
from users.services.reports import user_insert_finding_reports

pytestmark = pytest.mark.django_db


def _new(username: str, manager: User) -> User:
    return User(
        username=username,
        email=f"{username}@example.com",
        first_name="Ada",
        title="Engineer",
        external_id=f"ext-{username}",
        manager=manager,
        hire_date=dt.date(2024, 3, 1),
        hired_at=dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC),
        photo_url="https://img.example.com/a.png",
        custom={"team": "blue", "level": 7, "tags": ["a", "b"]},
        is_active=False,
        deactivated_at=timezone.now(),
        source=Source.SCIM,
        password="!" + "x" * 40,
    )


def _stored(pk: uuid.UUID) -> dict[str, object]:
    row = model_to_dict(User.objects.get(pk=pk))
    return {k: v for k, v in row.items() if k not in {"id", "username", "email", "external_id"}}


def test_the_hand_written_insert_stores_what_save_stores():
    boss = UserFactory()
    by_orm, by_hand = _new("orm", boss), _new("hand", boss)
    by_hand.created_at = by_hand.updated_at = by_orm.created_at
    by_hand.deactivated_at = by_orm.deactivated_at

    by_orm.save(force_insert=True)
    assert user_insert_finding_reports(by_hand) == []

    assert not by_hand._state.adding and by_hand._state.db == "default"
    assert _stored(by_hand.pk) == _stored(by_orm.pk)
    assert User.objects.get(pk=by_hand.pk).custom == {
        "team": "blue",
        "level": 7,
        "tags": ["a", "b"],
    }


def test_a_scim_create_is_one_statement_with_its_waiting_reports_probe(actor):
    report = user_create(actor=actor, source=Source.SCIM, username="r", manager_ref="later-boss")

    with CaptureQueriesContext(connection) as ctx:
        boss = user_create(
            actor=actor,
            source=Source.SCIM,
            username="boss",
            attributes={"external_id": "later-boss"},
        )

    # Each round trip's statements (write-behind rows ride in front of the next one).
    statements = [s for q in ctx.captured_queries for s in q["sql"].split(";\n")]
    user_writes = [
        s
        for s in statements
        if s.startswith(("WITH created", 'INSERT INTO "users_user"', 'UPDATE "users_user"'))
    ]
    assert len(user_writes) == 2  # the INSERT with its probe, then the link's UPDATE
    assert user_writes[0].startswith('WITH created AS (INSERT INTO "users_user"')
    assert "lower(pending_manager_ref) = ANY(" in user_writes[0]
    assert user_writes[1].startswith('UPDATE "users_user"')
    report.refresh_from_db()
    assert report.manager == boss and report.pending_manager_ref == ""


def test_a_local_account_is_saved_by_the_orm_with_no_probe(actor):
    with CaptureQueriesContext(connection) as ctx:
        user_create(
            actor=actor, source=Source.ADMIN, username="admin-2", password="S3cure-Passw0rd!"
        )

    statements = [q["sql"] for q in ctx.captured_queries]
    assert sum(s.startswith('INSERT INTO "users_user"') for s in statements) == 1
    assert not any("pending_manager_ref <> ''" in s for s in statements)


def test_an_expression_value_is_left_to_save():
    user = _new("expr", UserFactory())
    user.version = F("version") + 1

    with pytest.raises(TypeError, match="version: an expression"):
        rawsql.insert_of(user)
