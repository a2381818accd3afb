"""GET /api/v1/events/ for an events token: ordered, resumable, filtered, refused
without its own kind of token; the commands that make tokens and endpoints."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import Event, EventsToken, WebhookEndpoint
from events.pruning import events_prune_expired
from events.sequencing import events_stamp
from events.tokens import events_token_create
from tests.scim.conftest import ScimClient
from users.services import Actor

pytestmark = pytest.mark.django_db

FEED = "/api/v1/events/"


@pytest.fixture
def events_token() -> str:
    _, raw = events_token_create(name="search", actor=Actor.system("tests"))
    return raw


def _feed(client, token: str, **params: str):
    return client.get(FEED, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def _users(scim: ScimClient, committing, *names: str) -> None:
    for name in names:
        with committing():
            assert scim.post("/Users", {"userName": name}).status_code == 201


def test_the_feed_pages_in_order_and_resumes_from_next_cursor(
    client, events_token, provisioning_token, committing
):
    _users(ScimClient(provisioning_token), committing, "a", "b", "c")
    first = _feed(client, events_token, limit="2")
    assert first.status_code == 200, first.content
    body = first.json()
    assert [e["data"]["user"]["userName"] for e in body["data"]] == ["a", "b"]
    assert set(body["data"][0]) == {"id", "type", "created_at", "data"}
    rest = _feed(client, events_token, after=body["next_cursor"], limit="2").json()
    assert [e["data"]["user"]["userName"] for e in rest["data"]] == ["c"]
    empty = _feed(client, events_token, after=rest["next_cursor"]).json()
    assert empty == {"data": [], "next_cursor": rest["next_cursor"]}


def test_the_feed_filters_by_type(client, events_token, provisioning_token, committing):
    scim = ScimClient(provisioning_token)
    _users(scim, committing, "a")
    user_id = _feed(client, events_token).json()["data"][0]["data"]["user"]["id"]
    with committing():
        assert scim.delete(f"/Users/{user_id}").status_code == 204
    body = _feed(client, events_token, types="user.deleted").json()
    assert [e["type"] for e in body["data"]] == ["user.deleted"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"after": "x"}, "after: expected the next_cursor of an earlier page"),
        ({"limit": "0"}, "limit: expected a whole number from 1 to 1000"),
        ({"types": "user.exploded"}, "events: unknown type(s) user.exploded"),
    ],
)
def test_bad_parameters_are_a_400_with_the_reason(client, events_token, params, detail):
    response = _feed(client, events_token, **params)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_only_a_live_events_token_reads_the_feed(client, events_token, provisioning_token):
    assert client.get(FEED).status_code == 401
    assert _feed(client, provisioning_token).status_code == 401  # a SCIM token is not one
    assert _feed(client, "axevt_guessed").status_code == 401
    call_command("events_token", "revoke", "search", stdout=io.StringIO())
    assert _feed(client, events_token).status_code == 401


def test_an_events_token_opens_nothing_but_the_feed(client, events_token):
    scim = ScimClient(events_token).get("/Users")
    assert scim.status_code == 401
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {events_token}").status_code == 401


def test_events_token_command_prints_the_raw_token_alone_on_the_last_line(client):
    out = io.StringIO()
    call_command("events_token", "create", "--name", "notifications", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("axevt_")
    assert EventsToken.objects.get(name="notifications").token_hash != raw
    assert _feed(client, raw).status_code == 200
    listing = io.StringIO()
    call_command("events_token", "list", stdout=listing)
    assert "notifications" in listing.getvalue()
    assert raw not in listing.getvalue()


def test_webhook_add_prints_the_secret_alone_on_the_last_line():
    out = io.StringIO()
    call_command(
        "webhook",
        "add",
        "--url",
        "https://hooks.example.com/axero",
        "--events",
        "user.created,user.deleted",
        stdout=out,
    )
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["user.created", "user.deleted"]
    assert endpoint.secret == secret


@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_late_is_not_skipped_by_a_cursor(client, events_token):
    written, finish = threading.Event(), threading.Event()

    def slow_change() -> None:
        with transaction.atomic():
            Event.objects.create(type="user.created", data={"n": "slow"})  # the lower id
            written.set()
            finish.wait(10)
        connection.close()

    thread = threading.Thread(target=slow_change)
    thread.start()
    assert written.wait(10)
    Event.objects.create(type="user.created", data={"n": "fast"})  # committed first
    first = _feed(client, events_token).json()
    assert [e["data"]["n"] for e in first["data"]] == ["fast"]
    finish.set()
    thread.join()
    rest = _feed(client, events_token, after=first["next_cursor"]).json()
    assert [e["data"]["n"] for e in rest["data"]] == ["slow"]


def test_the_feed_reads_one_keyset_page_whatever_the_table_size(client, events_token):
    Event.objects.bulk_create([Event(type="user.created", data={"n": n}) for n in range(300)])
    events_stamp()
    with CaptureQueriesContext(connection) as queries:
        body = _feed(client, events_token, after="100", limit="50").json()
    assert [e["data"]["n"] for e in body["data"]] == list(range(100, 150))
    page = [q["sql"] for q in queries if "events_event" in q["sql"] and "SELECT" in q["sql"]]
    assert any('"position" > 100' in sql and "LIMIT 50" in sql for sql in page)


def test_prune_drops_expired_events_but_keeps_the_newest():
    old = timezone.now() - dt.timedelta(days=31)
    Event.objects.bulk_create(
        [Event(type="user.created", data={}, created_at=old) for _ in range(3)]
    )
    events_stamp()
    assert events_prune_expired() == 2
    assert Event.objects.count() == 1


def test_an_event_keeps_the_users_row_but_never_the_password_hash(committing):
    from users.services import user_create

    with committing():
        user_create(
            actor=Actor.system("tests"),
            source="admin",
            username="ada",
            password="correct-horse-battery-9",
        )
    (event,) = Event.objects.all()
    assert "password" not in event.data["user_row"]
    assert event.data["user_row"]["username"] == "ada"
