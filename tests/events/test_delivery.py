"""At least once, in order, nothing lost: retries, a killed worker, a broker outage, a
rolled-back SCIM write, batching, a day of failures, and the SSRF-safe client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from events import delivery
from events.models import DeliveryOutcome, Event, WebhookDelivery, WebhookEndpoint
from events.tasks import events_dispatch
from events.webhooks import webhook_delivery_resend, webhook_endpoint_add, webhook_test_send
from tests.events.conftest import signature_valid
from tests.scim.conftest import ScimClient
from users import events as domain_events
from users.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)


def _create(scim: ScimClient, name: str) -> str:
    response = scim.post("/Users", {"userName": name})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _backoff_over(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(next_attempt_at=timezone.now())


def test_a_receiver_that_answers_500_then_200_gets_the_same_event_again(
    endpoint, receiver, provisioning_token
):
    hook, secret = endpoint
    receiver.script = [500]
    _create(ScimClient(provisioning_token), "ada")
    assert len(receiver.received) == 1
    hook.refresh_from_db()
    assert (hook.attempts, hook.cursor) == (1, 0)
    assert hook.next_attempt_at > timezone.now()

    events_dispatch()  # the backoff is not over: nothing is sent
    assert len(receiver.received) == 1
    _backoff_over(hook)
    events_dispatch()

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert signature_valid(secret, second.headers, second.body)
    log = list(WebhookDelivery.objects.order_by("id").values_list("outcome", "response_status"))
    assert log == [(DeliveryOutcome.FAILED, 500), (DeliveryOutcome.DELIVERED, 200)]
    hook.refresh_from_db()
    assert (hook.attempts, hook.failing_since) == (0, None)


def test_later_events_wait_behind_a_failing_one(endpoint, receiver, provisioning_token):
    hook, _ = endpoint
    scim = ScimClient(provisioning_token)
    receiver.script = [503]
    _create(scim, "first")
    _create(scim, "second")  # its dispatch finds the endpoint waiting
    assert [m["data"]["user"]["userName"] for m in receiver.messages()] == ["first"]
    _backoff_over(hook)
    events_dispatch()
    names = [m["data"]["user"]["userName"] for m in receiver.messages()]
    assert names == ["first", "first", "second"]


def test_a_worker_killed_mid_delivery_delivers_again(
    endpoint, receiver, provisioning_token, monkeypatch
):
    class WorkerLost(BaseException):
        """What a SIGKILL looks like from the database: the transaction never commits."""

    real_advance = delivery._advance

    def killed(*args, **kwargs):
        raise WorkerLost

    monkeypatch.setattr(delivery, "_advance", killed)
    with pytest.raises(WorkerLost):
        _create(ScimClient(provisioning_token), "ada")
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.count() == 0  # the attempt's log rolled back with it
    assert Event.objects.count() == 1  # the change itself had committed

    monkeypatch.setattr(delivery, "_advance", real_advance)
    events_dispatch()  # beat's run after the worker came back
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert WebhookEndpoint.objects.get().cursor == Event.objects.get().position


def test_a_broker_outage_at_change_time_loses_nothing(
    endpoint, receiver, provisioning_token, monkeypatch
):
    from events.tasks import events_dispatch as task

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(task, "apply_async", broker_down)
    scim = ScimClient(provisioning_token)
    _create(scim, "ada")
    _create(scim, "grace")
    assert receiver.received == []
    monkeypatch.undo()

    events_dispatch()  # beat, every minute
    names = [m["data"]["user"]["userName"] for m in receiver.messages()]
    assert names == ["ada", "grace"]


def test_a_rolled_back_scim_write_emits_nothing(endpoint, receiver, provisioning_token):
    def fails_after_the_outbox(event):
        raise RuntimeError("a later step of the same change fails")

    # Registered after the outbox's listener: the event rows are written, then the
    # change fails and its transaction takes them with it.
    domain_events.subscribe_in_transaction(domain_events.UserCreated, fails_after_the_outbox)
    try:
        response = ScimClient(provisioning_token).post("/Users", {"userName": "ghost"})
    finally:
        domain_events.unsubscribe(domain_events.UserCreated, fails_after_the_outbox)
    assert response.status_code == 500
    assert Event.objects.count() == 0
    events_dispatch()
    assert receiver.received == []


def test_a_batching_endpoint_gets_a_signed_json_list(
    private_webhooks, eager_celery, receiver, provisioning_token, monkeypatch
):
    _, secret = webhook_endpoint_add(url=receiver.url, batch=True, actor=Actor.system("t"))
    monkeypatch.setattr("events.recording.dispatch_after_commit", lambda: None)
    bulk = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": {"userName": f"u{n}"}}
            for n in range(5)
        ],
    }
    assert ScimClient(provisioning_token).post("/Bulk", bulk).status_code == 200
    events_dispatch()
    (got,) = receiver.received
    assert signature_valid(secret, got.headers, got.body)
    assert got.headers["webhook-id"].startswith("msg_")
    assert sorted(m["data"]["user"]["userName"] for m in got.payload) == [f"u{n}" for n in range(5)]
    assert [m["type"] for m in got.payload] == ["user.created"] * 5


def test_only_the_chosen_types_are_sent(
    private_webhooks, eager_celery, receiver, provisioning_token
):
    webhook_endpoint_add(url=receiver.url, event_types="user.deleted", actor=Actor.system("t"))
    scim = ScimClient(provisioning_token)
    user_id = _create(scim, "ada")
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert [m["type"] for m in receiver.messages()] == ["user.deleted"]


def test_an_endpoint_failing_for_a_day_is_disabled(endpoint, receiver, provisioning_token):
    hook, _ = endpoint
    receiver.script = [500, 500]
    _create(ScimClient(provisioning_token), "ada")
    WebhookEndpoint.objects.filter(pk=hook.pk).update(
        failing_since=timezone.now() - dt.timedelta(days=1, minutes=1),
        next_attempt_at=timezone.now(),
    )
    events_dispatch()
    hook.refresh_from_db()
    assert hook.active is False
    assert hook.disabled_reason.startswith("failing since")
    assert len(receiver.received) == 2


def test_loopback_receivers_are_refused_unless_private_networks_are_allowed(
    eager_celery, receiver, provisioning_token, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    webhook_endpoint_add(url=receiver.url, actor=Actor.system("t"))
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    _create(ScimClient(provisioning_token), "ada")
    assert receiver.received == []
    (attempt,) = WebhookDelivery.objects.all()
    assert attempt.outcome == DeliveryOutcome.FAILED
    assert attempt.response_status is None
    assert "non-public address" in attempt.error


def test_send_test_event_and_resend(endpoint, receiver, provisioning_token):
    hook, secret = endpoint
    test = webhook_test_send(endpoint=hook)
    assert test.outcome == DeliveryOutcome.DELIVERED
    assert receiver.messages()[0]["type"] == "webhook.test"
    _create(ScimClient(provisioning_token), "ada")
    delivered = WebhookDelivery.objects.filter(event_type="user.created").get()
    again = webhook_delivery_resend(delivery=delivered)
    assert again.outcome == DeliveryOutcome.DELIVERED
    assert receiver.received[-1].headers["webhook-id"] == delivered.message_id
    assert receiver.received[-1].body == receiver.received[-2].body
    assert all(signature_valid(secret, r.headers, r.body) for r in receiver.received)


def test_backoff_doubles_up_to_an_hour():
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert delivery.backoff(30).total_seconds() == 3600
