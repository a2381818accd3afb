"""A worker SIGKILLed mid-task: another worker runs the task again, with one effect.

Three tasks are held mid-way at once by a worker with three pool processes: a photo
fetch (the image server stalls), a webhook delivery (the receiver stalls) and a persona
drain (this test holds the persona's row lock). The worker and its pool are killed with
SIGKILL, a second worker starts, and with no beat running the only way the work gets
done is the broker handing the unacknowledged messages to it (acks_late,
reject_on_worker_lost, the visibility timeout). Then: one stored image, one delivered
user.created event id, one membership.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
import psycopg2
import pytest
from django.db import connection

from events.models import DeliveryOutcome, WebhookDelivery
from events.webhooks import webhook_endpoint_add
from media.models import PendingPhotoFetch, ProfileImage
from personas.models import PendingEvaluation, SpaceMembership
from personas.services import SpaceGrant, persona_upsert, space_upsert
from tests.faults.conftest import wait_for, worker_environment
from tests.media.conftest import Route, image_bytes
from users.models import AuditEvent
from users.services import Actor, user_create

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PNG = image_bytes("PNG", size=(32, 32))
ACTOR = Actor.system("tests")


class StallingReceiver:
    """A webhook receiver whose first request never gets an answer; later ones get 200."""

    def __init__(self) -> None:
        self.received: list[str] = []  # webhook-id of every request
        self.acknowledged: list[str] = []  # webhook-id of every 2xx answer
        self.release = threading.Event()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                state.received.append(self.headers["webhook-id"])
                if len(state.received) == 1:
                    state.release.wait(60)
                    return  # the sender is gone by now
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                state.acknowledged.append(self.headers["webhook-id"])

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling_receiver():
    receiver = StallingReceiver()
    yield receiver
    receiver.close()


def _lock_row(table: str, pk: int) -> Any:
    """Hold a row lock from another connection, as a long transaction would."""
    settings = connection.settings_dict
    holder = psycopg2.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    )
    with holder.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608
    return holder


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_mid_task_leaves_one_image_one_event_delivery_one_membership(
    broker, start_worker, image_server, stalling_receiver, tmp_path
):
    media_root = tmp_path / "media"
    image_server.routes["/ann.png"] = Route(body=PNG, delay=60)  # the first fetch stalls
    endpoint, _secret = webhook_endpoint_add(
        url=stalling_receiver.url, actor=ACTOR, event_types=["user.created"]
    )
    space_upsert(slug="sales", name="Sales", actor=ACTOR)
    persona, _ = persona_upsert(
        slug="sales",
        name="Sales",
        rule={"attr": "department", "op": "eq", "value": "Sales"},
        spaces=[SpaceGrant(space="sales", role="member")],
        actor=ACTOR,
        schedule_evaluation=False,
    )
    holder = _lock_row("personas_persona", persona.pk)
    # The SCIM write: its outbox rows (photo fetch, persona mark, event) commit with it,
    # and a drain, a persona drain and an event dispatch are queued after commit.
    user = user_create(
        actor=Actor.scim("onelogin"),
        source="scim",
        username="ann@example.com",
        attributes={"department": "Sales", "photo_url": image_server.url("/ann.png")},
    )
    env = worker_environment(
        broker.url,
        media_root,
        CELERY_BROKER_VISIBILITY_TIMEOUT="4",
        CELERY_BROKER_RESTORE_INTERVAL="1",
    )
    first = start_worker(env, concurrency=3)
    wait_for("the photo fetch to start", lambda: image_server.hits)
    wait_for("the webhook delivery to start", lambda: stalling_receiver.received)
    wait_for("the persona drain to wait on the persona's lock", _waiting_on_locks)

    first.kill()
    killed_at = time.monotonic()
    holder.rollback()
    holder.close()
    image_server.routes["/ann.png"] = Route(body=PNG)  # answers at once from now on

    start_worker(env, concurrency=3)
    wait_for("the image", lambda: ProfileImage.objects.exclude(storage_name="").exists())
    wait_for("the membership", lambda: SpaceMembership.objects.exists())
    wait_for("the delivery", lambda: stalling_receiver.acknowledged)
    recovered_in = time.monotonic() - killed_at
    print(f"worker loss: work done {recovered_in:.1f} s after the SIGKILL")

    # Each task ran again from the start: the stalled attempts reached their peers.
    assert image_server.hits == ["/ann.png", "/ann.png"]
    assert len(stalling_receiver.received) == 2
    # One image: one row, one file, one audit record.
    stored = ProfileImage.objects.get(user=user)
    files = [p for p in (media_root / "profile-images").rglob("*") if p.is_file()]
    assert [p.relative_to(media_root).as_posix() for p in files] == [stored.storage_name]
    assert AuditEvent.objects.filter(action="image.updated", target_id=str(user.pk)).count() == 1
    assert not PendingPhotoFetch.objects.exists()
    # One delivered event id, sent twice with the same webhook-id (at least once).
    delivered = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert [(d.outcome, d.event_type) for d in delivered] == [
        (DeliveryOutcome.DELIVERED, "user.created")
    ]
    assert stalling_receiver.received == [delivered[0].message_id] * 2
    assert stalling_receiver.acknowledged == [delivered[0].message_id]
    # One membership.
    assert list(SpaceMembership.objects.values_list("user_id", "space__slug", "source")) == [
        (user.pk, "sales", "persona")
    ]
    assert not PendingEvaluation.objects.exists()
    assert recovered_in < 30


def test_a_pool_process_killed_mid_fetch_is_requeued_at_once_without_the_visibility_timeout(
    broker, start_worker, image_server, tmp_path
):
    """Only the process running the task dies (the OOM killer's usual pick): the worker
    rejects the message back to the queue at once (task_reject_on_worker_lost) and runs
    it again, long before the two-hour visibility timeout."""
    media_root = tmp_path / "media"
    image_server.routes["/bob.png"] = Route(body=PNG, delay=60)
    user = user_create(
        actor=Actor.scim("onelogin"),
        source="scim",
        username="bob@example.com",
        attributes={"photo_url": image_server.url("/bob.png")},
    )
    worker = start_worker(worker_environment(broker.url, media_root), concurrency=1)
    wait_for("the photo fetch to start", lambda: image_server.hits)
    [pool_process] = psutil.Process(worker.pid).children()
    image_server.routes["/bob.png"] = Route(body=PNG)

    pool_process.kill()
    killed_at = time.monotonic()
    wait_for("the image", lambda: ProfileImage.objects.exclude(storage_name="").exists())
    print(f"pool process loss: image stored {time.monotonic() - killed_at:.1f} s after the SIGKILL")

    assert worker.alive()  # the worker itself lives on
    assert "WorkerLostError" in worker.log_text()
    assert image_server.hits == ["/bob.png", "/bob.png"]
    stored = ProfileImage.objects.get(user=user)
    files = [p for p in (media_root / "profile-images").rglob("*") if p.is_file()]
    assert [p.relative_to(media_root).as_posix() for p in files] == [stored.storage_name]
    assert AuditEvent.objects.filter(action="image.updated").count() == 1
    assert not PendingPhotoFetch.objects.exists()
