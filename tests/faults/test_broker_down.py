"""The broker is down when a photo URL is set: the SCIM write succeeds, the fetch waits
in the outbox, and a later drain stores exactly one image."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest

from axero_idp.celery import app as celery_app
from media import tasks
from media.models import PendingPhotoFetch, ProfileImage
from tests.faults.conftest import wait_for, worker_environment
from tests.media.conftest import Route, image_bytes
from users.models import User
from users.services import Actor, user_create

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PNG = image_bytes("PNG", size=(40, 40))


@pytest.fixture(autouse=True)
def _photos_from_loopback(settings, tmp_path):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = True
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Each test starts with no drain queued by this process (media.queue).
    import media.queue

    media.queue.drain.window_reset()


def _create(client, token: str, name: str, photo: str | None):
    body: dict[str, object] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{name}@example.com",
    }
    if photo:
        body["photos"] = [{"value": photo, "primary": True}]
    return client.post(
        "/scim/v2/Users",
        body,
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_photo_url_set_while_the_broker_is_down_is_fetched_once_by_a_later_drain(
    client, broker, provisioning_token, image_server, tmp_path, caplog
):
    image_server.routes["/ann.png"] = Route(body=PNG, headers={"Content-Type": "image/png"})
    broker.stop()  # Redis is gone: nothing can be queued

    with caplog.at_level(logging.WARNING, logger="media.queue"):
        response = _create(client, provisioning_token, "ann", image_server.url("/ann.png"))
    assert response.status_code == 201, response.content
    started = time.monotonic()
    assert _create(client, provisioning_token, "bob", None).status_code == 201
    print(f"broker down: SCIM create answered 201 in {time.monotonic() - started:.2f} s")
    user = User.objects.get(username="ann@example.com")
    assert "could not queue the photo drain; beat will pick it up" in caplog.text
    # The fetch is committed with the user, and nothing was fetched yet.
    assert list(PendingPhotoFetch.objects.values_list("user_id", "url")) == [
        (user.pk, image_server.url("/ann.png"))
    ]
    assert image_server.hits == []
    assert not ProfileImage.objects.filter(user=user).exists()

    broker.start()  # back; beat's every-minute drain runs (here: in this process)
    assert tasks.photo_fetches_drain() == 1
    assert tasks.photo_fetches_drain() == 0

    stored = ProfileImage.objects.get(user=user)
    assert (stored.source, stored.source_url, stored.width) == ("scim", user.photo_url, 40)
    files = list((tmp_path / "media" / "profile-images").rglob("*"))
    assert [f.name for f in files if f.is_file()] == [stored.storage_name.rsplit("/", 1)[1]]
    assert image_server.hits == ["/ann.png"]
    assert not PendingPhotoFetch.objects.exists()


def test_a_redis_restart_under_a_running_worker_loses_no_photo(
    broker, start_worker, provisioning_token, image_server, tmp_path
):
    """Redis restarts (empty: it keeps nothing) under a running worker. A worker that
    holds unacknowledged messages at that moment exits ("Unrecoverable error", a kombu
    bug while it restores them); its supervisor (compose: restart unless-stopped) starts
    it again, as this test does. Either way what was set meanwhile is fetched, once, by
    the next drain: the outbox row is in PostgreSQL, not in Redis."""
    image_server.routes["/a.png"] = Route(body=PNG)
    image_server.routes["/b.png"] = Route(body=PNG)
    env = worker_environment(broker.url, tmp_path / "media")
    worker = start_worker(env, concurrency=1)
    user_create(
        actor=Actor.scim("onelogin"),
        source="scim",
        username="a@example.com",
        attributes={"photo_url": image_server.url("/a.png")},
    )
    wait_for("the first photo", lambda: _stored_for("a@example.com"))

    broker.stop()
    stopped_at = time.monotonic()
    user_create(
        actor=Actor.scim("onelogin"),
        source="scim",
        username="b@example.com",
        attributes={"photo_url": image_server.url("/b.png")},
    )  # its drain could not be queued
    broker.start()
    exited = _exits(worker, within=30)
    print(f"broker restart: worker exited={exited} after {time.monotonic() - stopped_at:.1f} s")
    if exited:
        print("broker restart: the worker exited; restarted as a supervisor would")
        worker = start_worker(env, concurrency=1)
    # Beat's every-minute drain, sent as beat sends it.
    celery_app.send_task("media.tasks.photo_fetches_drain")
    wait_for("the second photo", lambda: _stored_for("b@example.com"), timeout=45)
    print(f"broker restart: photo stored {time.monotonic() - stopped_at:.1f} s after the stop")

    assert image_server.hits == ["/a.png", "/b.png"]
    assert not PendingPhotoFetch.objects.exists()


def _exits(worker, within: float) -> bool:
    try:
        worker.popen.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return False
    return True


def _stored_for(username: str) -> bool:
    return ProfileImage.objects.filter(user__username=username).exclude(storage_name="").exists()
