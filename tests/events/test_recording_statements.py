"""The outbox listeners write a batch of users' events in one statement."""

import pytest
from django.db import connection

from events import recording
from events.models import Event
from tests.factories import UserFactory
from users import events

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("count", [3, 300])
def test_users_created_is_one_insert_select_for_3_or_300_users(count, django_assert_num_queries):
    users = UserFactory.create_batch(count)
    # Written behind (axero_idp.db): no round trip of its own, one statement queued to
    # ride with the transaction's next one.
    with django_assert_num_queries(0):
        recording.on_users_created(
            events.UsersCreated(user_ids=frozenset(u.pk for u in users), actor_kind="scim")
        )
    [queued] = connection.connection.behind
    assert queued.startswith(
        b"INSERT INTO events_event (type, created_at, actor_kind, data) SELECT"
    )
    written = Event.objects.filter(type="user.created").order_by("id")
    assert written.count() == count
    first = min(users, key=lambda u: u.username)
    assert (written[0].actor_kind, written[0].data["user_row"]["username"]) == (
        "scim",
        first.username,
    )
    assert "password" not in written[0].data["user_row"]


def test_a_login_role_sync_writes_its_role_events_without_reading_the_roles_again(
    django_assert_num_queries,
):
    from users.services import Actor, user_roles_sync

    user = UserFactory()
    published: list[events.UserRolesChanged] = []
    events.subscribe_in_transaction(events.UserRolesChanged, published.append)
    try:
        user_roles_sync(
            user=user, role_names=["Admins", "Sales"], source="saml:okta", actor=Actor.idp("okta")
        )
    finally:
        events.unsubscribe(events.UserRolesChanged, published.append)
    [changed] = published
    Event.objects.all().delete()  # what the outbox's own listener wrote during the sync

    # The outbox INSERT only, and written behind (axero_idp.db): no round trip of its
    # own, it rides with the next statement (here the SELECT below).
    with django_assert_num_queries(0):
        recording.on_user_roles_changed(changed)
    names = sorted(
        e.data["role"]["displayName"] for e in Event.objects.filter(type="role.members_changed")
    )
    assert names == ["Admins", "Sales"]
