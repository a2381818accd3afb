"""A photo replaced behind the same URL is fetched again, conditionally (an unchanged one
costs a 304), on every write that carries the URL and by the periodic refresh; a
server that trickles bytes is cut off at the total deadline."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import threading
import time

import pytest

from media import tasks
from media.errors import ImageFetchUnavailable
from media.models import ProfileImage
from media.services import photo_fetch_run
from tests.factories import UserFactory
from tests.media.conftest import Route, image_bytes
from users.models import AuditEvent
from users.services import Actor, user_update

pytestmark = pytest.mark.django_db

RED = image_bytes("PNG", size=(50, 50), color=(200, 30, 30))
BLUE = image_bytes("PNG", size=(50, 50), color=(30, 30, 200))
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


class _PhotoHandler(http.server.BaseHTTPRequestHandler):
    """One photo at /me.png that the test can replace; honours If-None-Match."""

    photo = RED
    requests: list[dict[str, str]] = []

    def do_GET(self):
        etag = '"' + hashlib.sha256(self.photo).hexdigest()[:16] + '"'
        self.requests.append(
            {
                "If-None-Match": self.headers.get("If-None-Match", ""),
                "If-Modified-Since": self.headers.get("If-Modified-Since", ""),
            }
        )
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.send_header("Content-Length", str(len(self.photo)))
        self.end_headers()
        self.wfile.write(self.photo)

    def log_message(self, *args):
        pass


@pytest.fixture
def photo_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PhotoHandler)
    httpd.daemon_threads = True
    _PhotoHandler.photo = RED
    _PhotoHandler.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/me.png"
    httpd.shutdown()
    httpd.server_close()


def _push(user, url):
    """What a SCIM PUT carrying the photo URL does."""
    return user_update(user=user, actor=Actor.scim("entra"), attributes={"photo_url": url})


def _image(user) -> ProfileImage:
    return ProfileImage.objects.get(user=user)


def test_a_photo_replaced_at_the_same_url_is_fetched_again_on_the_next_push(
    committing, eager_celery, private_allowed, photo_server
):
    user = UserFactory()
    with committing():
        _push(user, photo_server)
    first = _image(user)

    _PhotoHandler.photo = BLUE
    with committing():
        _push(user, photo_server)

    second = _image(user)
    assert first.sha256 != second.sha256
    assert second.sha256 == hashlib.sha256(_stored_bytes(second)).hexdigest()
    assert (
        _PhotoHandler.requests[1]["If-None-Match"]
        == '"' + hashlib.sha256(RED).hexdigest()[:16] + '"'
    )
    assert _PhotoHandler.requests[1]["If-Modified-Since"] == LAST_MODIFIED
    assert AuditEvent.objects.filter(action="image.updated").count() == 2


def _stored_bytes(profile: ProfileImage) -> bytes:
    from django.core.files.storage import default_storage

    with default_storage.open(profile.storage_name) as handle:
        return handle.read()


def test_an_unchanged_photo_costs_a_304_and_changes_nothing(
    committing, eager_celery, private_allowed, photo_server
):
    user = UserFactory()
    with committing():
        _push(user, photo_server)
    first = _image(user)

    with committing():
        _push(user, photo_server)

    second = _image(user)
    assert [r["If-None-Match"] != "" for r in _PhotoHandler.requests] == [False, True]
    assert (second.storage_name, second.sha256) == (first.storage_name, first.sha256)
    assert second.fetch_checked_at >= first.fetch_checked_at
    assert AuditEvent.objects.filter(action="image.updated").count() == 1
    assert photo_fetch_run(user_id=user.pk, url=photo_server) == "unchanged"


def test_the_periodic_refresh_picks_up_a_replaced_photo_and_is_bounded(
    eager_celery, private_allowed, photo_server, monkeypatch
):
    stale = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    users = [UserFactory(photo_url=photo_server) for _ in range(2)]
    for user in users:
        assert photo_fetch_run(user_id=user.pk, url=photo_server) == "stored"
    ProfileImage.objects.update(fetch_checked_at=stale)
    _PhotoHandler.photo = BLUE
    monkeypatch.setattr(tasks, "REFRESH_BATCH", 1)

    assert tasks.photo_refresh_due() == 1
    assert tasks.photo_refresh_due() == 1
    assert tasks.photo_refresh_due() == 0  # both checked within the day now

    blue = {_image(user).sha256 for user in users}
    assert len(blue) == 1 and blue != {_image_sha_of(RED)}


def _image_sha_of(data: bytes) -> str:
    from media.imaging import image_normalise

    return image_normalise(data).sha256


def test_a_trickling_server_is_cut_off_at_the_deadline_and_the_image_is_kept(
    settings, private_allowed, image_server
):
    settings.IMAGE_FETCH_DEADLINE_SECONDS = 1.0
    image_server.routes["/old.png"] = Route(body=RED)
    # 300 bytes at one byte every 0.2 s: a minute for the whole body.
    image_server.routes["/slow.png"] = Route(body=(BLUE * 3)[:300], trickle=0.2)
    user = UserFactory(photo_url=image_server.url("/old.png"))
    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"
    before = _image(user)
    _push(user, image_server.url("/slow.png"))

    started = time.monotonic()
    with pytest.raises(ImageFetchUnavailable) as caught:
        photo_fetch_run(user_id=user.pk, url=image_server.url("/slow.png"))

    assert time.monotonic() - started < 5
    assert caught.value.detail == "image URL: no complete answer within 1 s"
    after = _image(user)
    assert (after.storage_name, after.sha256) == (before.storage_name, before.sha256)


def test_the_deadline_has_a_twenty_second_default(settings):
    from media.fetching import image_fetch_policy

    assert image_fetch_policy().deadline == 20.0


@pytest.fixture
def scim(provisioning_token):
    from tests.scim.conftest import ScimClient

    return ScimClient(provisioning_token)


def test_scim_put_and_photo_patch_fetch_again_a_patch_of_other_attributes_does_not(
    committing, eager_celery, private_allowed, photo_server, scim
):
    body = {"userName": "ada@example.com", "photos": [{"value": photo_server, "type": "photo"}]}
    with committing():
        user_id = scim.post("/Users", body).json()["id"]
    _PhotoHandler.photo = BLUE

    with committing():
        scim.patch(
            f"/Users/{user_id}",
            {"Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]},
        )
    after_title = len(_PhotoHandler.requests)
    with committing():
        scim.patch(
            f"/Users/{user_id}",
            {"Operations": [{"op": "replace", "path": "photos", "value": body["photos"]}]},
        )
    after_photo_patch = len(_PhotoHandler.requests)
    with committing():
        scim.put(f"/Users/{user_id}", body)

    assert (after_title, after_photo_patch, len(_PhotoHandler.requests)) == (1, 2, 3)
    assert [r["If-None-Match"] != "" for r in _PhotoHandler.requests] == [False, True, True]
    assert _image_sha_of(BLUE) == ProfileImage.objects.get(user_id=user_id).sha256
