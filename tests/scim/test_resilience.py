"""A broker outage or a failing listener never fails a SCIM request."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from users import events
from users.models import User

# Real commits: the events are delivered inside the request, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broken_broker_listener():
    """A listener that queues a Celery task, while the broker is unreachable."""

    calls: list[events.Event] = []

    def enqueue(event: events.Event) -> None:
        calls.append(event)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for kind in (events.UserCreated, events.UserChanged, events.RoleMembersChanged):
        events.subscribe(kind, enqueue)
    yield calls
    for kind in (events.UserCreated, events.UserChanged, events.RoleMembersChanged):
        events.unsubscribe(kind, enqueue)


def test_user_create_and_group_patch_succeed_while_the_broker_is_down(scim, broken_broker_listener):
    created = scim.post("/Users", {"userName": "outage@example.com"})
    group = scim.post("/Groups", {"displayName": "Outage"})
    patched = scim.patch(
        f"/Groups/{group.json()['id']}",
        {
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": created.json()["id"]}]}
            ]
        },
    )
    deactivated = scim.patch(
        f"/Users/{created.json()['id']}",
        {"Operations": [{"op": "replace", "value": {"active": False}}]},
    )

    assert [r.status_code for r in (created, group, patched, deactivated)] == [201, 201, 204, 200]
    # Every change was announced, and every listener failure was contained.
    assert [type(e).__name__ for e in broken_broker_listener] == [
        "UserCreated",
        "RoleMembersChanged",
        "UserChanged",
    ]
    assert User.objects.get(username="outage@example.com").is_active is False
