"""The photo fetch outbox (media.pending): rows written with the change, drained with
SKIP LOCKED, retried with backoff on network trouble, dropped only when settled."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from media import pending, tasks
from media.models import PendingPhotoFetch, ProfileImage
from tests.factories import UserFactory
from tests.media.conftest import Route, image_bytes
from users.models import AuditEvent
from users.services import Actor, user_update

PNG = image_bytes("PNG", size=(20, 20))


@pytest.fixture(autouse=True)
def _drain_window_open(monkeypatch):
    import media.queue

    media.queue.drain.window_reset()


def _mark(user, url: str) -> None:
    user_update(user=user, actor=Actor.scim("onelogin"), attributes={"photo_url": url})


@pytest.mark.django_db
def test_the_row_commits_with_the_change_and_rolls_back_with_it():
    kept, undone = UserFactory(), UserFactory()
    _mark(kept, "https://photos.example.com/kept.png")

    @transaction.atomic
    def write_that_fails() -> None:
        _mark(undone, "https://photos.example.com/undone.png")
        raise RuntimeError("the SCIM write fails after the photo URL was set")

    with pytest.raises(RuntimeError):
        write_that_fails()

    assert list(PendingPhotoFetch.objects.values_list("user_id", "url", "origin")) == [
        (kept.pk, "https://photos.example.com/kept.png", "scim")
    ]


@pytest.mark.django_db
def test_network_trouble_keeps_the_row_with_backoff_then_records_the_failure(
    private_allowed, image_server
):
    image_server.routes["/down.png"] = Route(status=503)
    user = UserFactory()
    _mark(user, image_server.url("/down.png"))
    waits = []
    for attempt in range(1, pending.MAX_ATTEMPTS):
        assert pending.photo_fetches_drain().outcomes == {"retrying": 1}
        row = PendingPhotoFetch.objects.get()
        assert row.attempts == attempt
        waits.append(round((row.not_before - timezone.now()).total_seconds() / 60))
        assert pending.photo_fetches_drain().fetches == 0  # not due yet
        PendingPhotoFetch.objects.update(not_before=timezone.now())

    assert waits == [1, 2, 4, 8]
    assert pending.photo_fetches_drain().outcomes == {"failed": 1}
    assert not PendingPhotoFetch.objects.exists()
    profile = ProfileImage.objects.get(user=user)
    assert (profile.last_failure_url, profile.last_failure_reason) == (
        image_server.url("/down.png"),
        "image URL answered HTTP 503",
    )
    assert len(image_server.hits) == pending.MAX_ATTEMPTS


@pytest.mark.django_db
def test_a_bug_records_the_failure_and_drops_the_row(monkeypatch, caplog):
    user = UserFactory()
    _mark(user, "https://photos.example.com/a.png")

    def broken(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(pending, "photo_fetch_run", broken)
    assert pending.photo_fetches_drain().outcomes == {"failed": 1}

    assert not PendingPhotoFetch.objects.exists()
    failure = AuditEvent.objects.get(action="image.fetch_failed")
    assert failure.detail["reason"] == "internal error (KeyError)"


@pytest.mark.django_db
def test_a_database_outage_propagates_and_keeps_the_row(monkeypatch):
    user = UserFactory()
    _mark(user, "https://photos.example.com/a.png")

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pending, "photo_fetch_run", database_gone)
    with pytest.raises(OperationalError):
        pending.photo_fetches_drain()

    assert PendingPhotoFetch.objects.filter(user_id=user.pk, attempts=0).exists()
    assert not AuditEvent.objects.filter(action="image.fetch_failed").exists()


@pytest.mark.django_db
def test_the_same_url_marked_twice_is_stored_once(
    private_allowed, image_server, media_root, committing
):
    image_server.routes["/p.png"] = Route(body=PNG, headers={"ETag": '"v1"'})
    user = UserFactory()
    _mark(user, image_server.url("/p.png"))
    _mark(user, image_server.url("/p.png"))  # the IdP sends the same URL again

    with committing():  # the second copy of the same image is deleted after commit
        assert tasks.photo_fetches_drain() == 2
    assert AuditEvent.objects.filter(action="image.updated").count() == 1
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 1
    assert not PendingPhotoFetch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_drains_never_fetch_the_same_row(private_allowed, image_server):
    """A drain holding a slow fetch keeps its row locked; a second drain skips it and
    takes the next one, instead of waiting or fetching it again."""
    image_server.routes["/slow.png"] = Route(body=PNG, delay=1.5)
    image_server.routes["/fast.png"] = Route(body=PNG)
    slow, fast = UserFactory(), UserFactory()
    _mark(slow, image_server.url("/slow.png"))
    PendingPhotoFetch.objects.update(not_before=timezone.now() - dt.timedelta(seconds=1))
    _mark(fast, image_server.url("/fast.png"))
    first: list[pending.DrainResult] = []

    def drain_in_another_worker() -> None:
        try:
            first.append(pending.photo_fetches_drain(budget=0.1))
        finally:
            connection.close()

    worker = threading.Thread(target=drain_in_another_worker)
    worker.start()
    while not image_server.hits:
        pass
    started = time.monotonic()
    second = pending.photo_fetches_drain(budget=0.1)
    waited = time.monotonic() - started
    worker.join(timeout=30)

    assert waited < 1.0  # it did not wait for the slow fetch's lock
    assert (first[0].outcomes, second.outcomes) == ({"stored": 1}, {"stored": 1})
    assert sorted(image_server.hits) == ["/fast.png", "/slow.png"]
    assert ProfileImage.objects.exclude(storage_name="").count() == 2
    assert not PendingPhotoFetch.objects.exists()
