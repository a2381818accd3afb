"""axero_idp.sessions: Django's database sessions with fewer writes, same guarantees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from axero_idp.sessions import SessionStore
from tests.factories import UserFactory
from users.services.logins import LAST_LOGIN_PRECISION, user_last_login_touch

pytestmark = pytest.mark.django_db


def _stored(key: str | None) -> dict | None:
    row = Session.objects.filter(session_key=key).first()
    return None if row is None else SessionStore().decode(row.session_data)


def test_a_new_session_is_one_insert_without_probing_the_key_first():
    store = SessionStore()
    store["a"] = 1

    with CaptureQueriesContext(connection) as queries:
        store.save()

    # One round trip, the INSERT (it carries the test transaction's BEGIN when it is the
    # test's first statement: axero_idp.db sends BEGIN with the first statement).
    assert [q["sql"].removeprefix("BEGIN;\n").split()[0] for q in queries.captured_queries] == [
        "INSERT"
    ]
    assert _stored(store.session_key) == {"a": 1}


def test_rotation_writes_nothing_until_the_save_then_inserts_and_deletes_the_old_row():
    store = SessionStore()
    store["a"] = 1
    store.save()
    old = store.session_key

    with CaptureQueriesContext(connection) as rotating:
        store.cycle_key()
        store["b"] = 2
    assert rotating.captured_queries == []
    assert store.session_key != old
    assert _stored(old) == {"a": 1}  # still valid until the new row exists

    store.save()

    assert _stored(store.session_key) == {"a": 1, "b": 2}
    assert _stored(old) is None


def test_a_second_save_of_the_same_data_writes_nothing_and_a_change_is_written(
    django_capture_on_commit_callbacks,
):
    store = SessionStore()
    store["a"] = 1
    with django_capture_on_commit_callbacks(execute=True):  # as the commit would
        store.save()

    with CaptureQueriesContext(connection) as unchanged:
        store.save()
    assert unchanged.captured_queries == []

    store["a"] = 2
    store.save()
    assert _stored(store.session_key) == {"a": 2}
    nested = SessionStore(store.session_key)
    nested["list"] = [1]
    nested.save()
    nested["list"].append(2)  # changed in place, then saved explicitly
    nested.save()
    assert _stored(store.session_key) == {"a": 2, "list": [1, 2]}


def test_flush_after_an_unsaved_rotation_still_ends_the_old_session():
    store = SessionStore()
    store["user"] = "ann"
    store.save()
    old = store.session_key

    store.cycle_key()
    store.flush()

    assert _stored(old) is None
    assert store.session_key is None


def test_a_taken_key_is_refused_by_the_insert_and_another_one_is_chosen(monkeypatch):
    taken = SessionStore()
    taken["owner"] = "first"
    taken.save()
    keys = iter([taken.session_key, "k" * 32])
    store = SessionStore()
    monkeypatch.setattr(store, "_get_new_session_key", lambda: next(keys))
    store["owner"] = "second"

    store.save()

    assert store.session_key == "k" * 32
    assert _stored(taken.session_key) == {"owner": "first"}
    assert _stored("k" * 32) == {"owner": "second"}


def test_an_expired_session_is_not_loaded():
    store = SessionStore()
    store["a"] = 1
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )

    assert SessionStore(store.session_key).load() == {}


def test_last_login_is_written_at_most_every_ten_minutes():
    user = UserFactory(last_login=None)

    user_last_login_touch(user=user)
    first = user.last_login
    assert first is not None
    user.refresh_from_db()
    assert user.last_login == first

    with CaptureQueriesContext(connection) as soon:
        user_last_login_touch(user=user)
    assert soon.captured_queries == []

    stale = first - LAST_LOGIN_PRECISION - dt.timedelta(seconds=1)
    type(user).objects.filter(pk=user.pk).update(last_login=stale)
    user.last_login = stale
    user_last_login_touch(user=user)
    user.refresh_from_db()
    assert user.last_login > first


def test_a_password_login_records_last_login(client):
    user = UserFactory(username="ann", password="correct-horse-battery-1", is_staff=True)

    assert client.login(username="ann", password="correct-horse-battery-1")

    user.refresh_from_db()
    assert user.last_login is not None


def test_a_save_rolled_back_with_its_transaction_is_written_again_by_the_next_save():
    from django.db import transaction

    store = SessionStore()
    store["user"] = "old"
    store.save()
    old = store.session_key

    class Rollback(Exception):
        pass

    def login_that_fails_after_saving() -> None:
        with transaction.atomic():
            store.cycle_key()
            store["user"] = "ann"
            store.save()
            raise Rollback

    with pytest.raises(Rollback):
        login_that_fails_after_saving()
    assert _stored(store.session_key) is None  # rolled back with the transaction
    assert _stored(old) == {"user": "old"}

    store.save()  # the response's save: not skipped, since nothing was committed

    assert _stored(store.session_key) == {"user": "ann"}
    assert _stored(old) is None


def test_a_save_committed_inside_a_transaction_makes_the_next_identical_save_free(
    django_capture_on_commit_callbacks,
):
    from django.db import transaction

    store = SessionStore()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        store["user"] = "ann"
        store.save()

    with CaptureQueriesContext(connection) as after_commit:
        store.save()
    assert after_commit.captured_queries == []
    assert _stored(store.session_key) == {"user": "ann"}
