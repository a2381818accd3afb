"""Photo URL set → task → stored image; failures keep the previous image; the broker
outage path and the catch-up job."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from media import tasks
from media.models import ImageSource, PendingPhotoFetch, ProfileImage
from media.services import photo_fetch_run, profile_image_store
from tests.factories import UserFactory
from tests.media.conftest import (
    Route,
    exif_with_gps_and_orientation,
    gif_html_polyglot,
    image_bytes,
    png_bomb,
)
from users.models import AuditEvent, User
from users.services import Actor, user_update

pytestmark = pytest.mark.django_db

PNG = image_bytes("PNG", size=(50, 50))
JPEG = image_bytes("JPEG", size=(60, 40))


def _set_photo(user, url, actor=None):
    return user_update(
        user=user, actor=actor or Actor.scim("onelogin"), attributes={"photo_url": url}
    )


def _stored(user) -> ProfileImage:
    return ProfileImage.objects.get(user=user)


def test_a_photo_url_set_by_scim_is_fetched_and_stored(
    committing, eager_celery, private_allowed, image_server, media_root
):
    image_server.routes["/p.png"] = Route(body=PNG, headers={"Content-Type": "image/png"})
    user = UserFactory()

    with committing():
        _set_photo(user, image_server.url("/p.png"))

    stored = _stored(user)
    assert (stored.source, stored.source_url) == (ImageSource.SCIM, image_server.url("/p.png"))
    assert (stored.content_type, stored.width, stored.height) == ("image/png", 50, 50)
    assert (media_root / stored.storage_name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert User.objects.get(pk=user.pk).image_version == stored.sha256[:16]
    event = AuditEvent.objects.get(action="image.updated")
    assert (event.actor_kind, event.actor_name, event.target_id) == (
        "system",
        "image fetch",
        str(user.pk),
    )
    assert event.detail["source_url"] == image_server.url("/p.png")


def test_a_photo_url_from_a_saml_login_is_recorded_as_saml(
    committing, eager_celery, private_allowed, image_server
):
    image_server.routes["/p.jpg"] = Route(body=JPEG)
    user = UserFactory()

    with committing():
        _set_photo(user, image_server.url("/p.jpg"), actor=Actor.idp("onelogin"))

    assert _stored(user).source == ImageSource.SAML


def test_the_same_image_at_the_same_url_again_changes_nothing(private_allowed, image_server):
    # A server without validators sends the body again; the same image writes nothing.
    image_server.routes["/p.png"] = Route(body=PNG)
    user = UserFactory(photo_url=image_server.url("/p.png"))

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"
    first = _stored(user)
    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"

    assert image_server.hits == ["/p.png", "/p.png"]
    assert _stored(user).storage_name == first.storage_name
    assert AuditEvent.objects.filter(action="image.updated").count() == 1


def test_a_task_for_a_url_that_is_no_longer_the_users_does_nothing(private_allowed, image_server):
    user = UserFactory(photo_url=image_server.url("/new.png"))

    assert photo_fetch_run(user_id=user.pk, url=image_server.url("/old.png")) == "superseded"
    assert image_server.hits == []
    assert not ProfileImage.objects.filter(user=user).exists()


def test_a_task_for_a_deleted_user_does_nothing():
    import uuid

    assert photo_fetch_run(user_id=uuid.uuid4(), url="https://x.example.com/a.png") == "no_user"


def test_exif_gps_is_stripped_and_rotation_applied_on_the_way_in(
    private_allowed, image_server, media_root
):
    from PIL import Image

    body = image_bytes("JPEG", size=(80, 40), exif=exif_with_gps_and_orientation(6))
    image_server.routes["/gps.jpg"] = Route(body=body)
    user = UserFactory(photo_url=image_server.url("/gps.jpg"))

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"

    stored = Image.open(media_root / _stored(user).storage_name)
    assert stored.size == (40, 80)
    assert dict(stored.getexif()) == {}


def test_a_lying_content_type_does_not_decide_the_format(private_allowed, image_server):
    image_server.routes["/a.jpg"] = Route(body=PNG, headers={"Content-Type": "image/jpeg"})
    image_server.routes["/b.png"] = Route(
        body=b"<html><body>hi</body></html>", headers={"Content-Type": "image/png"}
    )
    user = UserFactory(photo_url=image_server.url("/a.jpg"))
    other = UserFactory(photo_url=image_server.url("/b.png"))

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"
    assert photo_fetch_run(user_id=other.pk, url=other.photo_url) == "refused"
    assert _stored(user).content_type == "image/png"
    assert _stored(other).last_failure_reason == "not a JPEG, PNG or GIF image"


def test_a_polyglot_is_stored_as_a_clean_gif(private_allowed, image_server, media_root):
    image_server.routes["/p.gif"] = Route(body=gif_html_polyglot())
    user = UserFactory(photo_url=image_server.url("/p.gif"))

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "stored"
    data = (media_root / _stored(user).storage_name).read_bytes()
    assert data.startswith(b"GIF8") and b"<script" not in data


@pytest.fixture
def user_with_image(media_root):
    user = UserFactory()
    profile = profile_image_store(
        user=user, data=JPEG, source=ImageSource.ADMIN, actor=Actor.system("tests")
    )
    return user, profile


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(status=404), "image URL answered HTTP 404"),
        (Route(body=b"\0" * (5 * 1024 * 1024 + 1)), "larger than 5 MB"),
        (Route(body=b"<html>login page</html>"), "not a JPEG, PNG or GIF image"),
        (Route(body=image_bytes("PNG")[:70]), "could not be decoded"),
        (Route(body=png_bomb()), "image dimensions 40000x40000 exceed the limit"),
        (
            Route(status=302, headers={"Location": "file:///etc/passwd"}),
            "image URL must be http or https",
        ),
    ],
    ids=["404", "too-large", "html", "truncated", "bomb", "redirect-to-file"],
)
def test_a_refused_fetch_keeps_the_previous_image_and_records_why(
    private_allowed, image_server, media_root, user_with_image, route, reason, caplog
):
    user, before = user_with_image
    image_server.routes["/bad"] = route
    user.photo_url = image_server.url("/bad")
    user.save(update_fields=["photo_url"])

    with caplog.at_level(logging.WARNING, logger="media.services"):
        assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "refused"

    after = _stored(user)
    assert (after.storage_name, after.sha256, after.source) == (
        before.storage_name,
        before.sha256,
        ImageSource.ADMIN,
    )
    assert (media_root / before.storage_name).exists()
    assert (after.last_failure_reason, after.last_failure_url) == (reason, user.photo_url)
    event = AuditEvent.objects.get(action="image.fetch_failed")
    assert event.detail == {"url": user.photo_url, "reason": reason}
    assert caplog.messages == [f"profile image fetch failed for user {user.pk}: {reason}"]
    assert "/bad" not in caplog.text  # the URL may name the person: not logged


def test_an_ssrf_url_is_refused_and_the_previous_image_survives(settings, user_with_image):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False
    user, before = user_with_image
    user.photo_url = "http://169.254.169.254/latest/meta-data/iam/"
    user.save(update_fields=["photo_url"])

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "refused"

    after = _stored(user)
    assert after.sha256 == before.sha256
    assert after.last_failure_reason == (
        "image URL: '169.254.169.254' resolves to a non-public address"
    )


def test_network_trouble_retries_with_backoff_and_keeps_the_image(
    private_allowed, image_server, user_with_image, monkeypatch
):
    user, before = user_with_image
    image_server.routes["/down"] = Route(status=503)
    user.photo_url = image_server.url("/down")
    user.save(update_fields=["photo_url"])
    retries = []

    def fake_retry(exc=None, countdown=None, **kwargs):
        retries.append((exc.detail, countdown))
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(tasks.photo_fetch, "retry", fake_retry)

    with pytest.raises(RuntimeError, match="retry scheduled"):
        tasks.photo_fetch(str(user.pk), user.photo_url)

    assert retries == [("image URL answered HTTP 503", 60)]
    after = _stored(user)
    assert (after.sha256, after.last_failure_at) == (before.sha256, None)


def test_network_trouble_after_the_last_retry_is_recorded(
    private_allowed, image_server, user_with_image
):
    user, before = user_with_image
    image_server.routes["/down"] = Route(status=502)
    user.photo_url = image_server.url("/down")
    user.save(update_fields=["photo_url"])

    tasks.photo_fetch.push_request(retries=tasks.photo_fetch.max_retries)
    try:
        assert tasks.photo_fetch(str(user.pk), user.photo_url) == "failed"
    finally:
        tasks.photo_fetch.pop_request()

    after = _stored(user)
    assert after.sha256 == before.sha256
    assert after.last_failure_reason == "image URL answered HTTP 502"


def test_a_newer_url_wins_over_a_slower_older_fetch(private_allowed, image_server, monkeypatch):
    """The older URL's download finishes after the user's photo URL changed: its image
    is thrown away and its file deleted."""
    from media import services

    image_server.routes["/old.png"] = Route(body=PNG)
    user = UserFactory(photo_url=image_server.url("/old.png"))
    real_download = services.image_download

    def download_then_url_changes(url, validators=None):
        data = real_download(url, validators)
        User.objects.filter(pk=user.pk).update(photo_url=image_server.url("/new.png"))
        return data

    monkeypatch.setattr(services, "image_download", download_then_url_changes)

    assert photo_fetch_run(user_id=user.pk, url=image_server.url("/old.png")) == "superseded"
    assert not ProfileImage.objects.filter(user=user).exclude(storage_name="").exists()


def test_a_broker_outage_does_not_fail_the_scim_request_and_the_drain_fetches_later(
    client,
    committing,
    provisioning_token,
    private_allowed,
    image_server,
    monkeypatch,
    caplog,
    eager_celery,
):
    image_server.routes["/ann.png"] = Route(body=PNG)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.photo_fetches_drain, "apply_async", broker_down)
    with caplog.at_level(logging.WARNING, logger="media.queue"), committing():
        response = client.post(
            "/scim/v2/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ann@example.com",
                "photos": [{"value": image_server.url("/ann.png"), "primary": True}],
            },
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {provisioning_token}",
        )

    assert response.status_code == 201
    user = User.objects.get(username="ann@example.com")
    assert "could not queue the photo drain; beat will pick it up" in caplog.text
    assert not ProfileImage.objects.filter(user=user).exists()
    assert list(PendingPhotoFetch.objects.values_list("user_id", "url", "origin")) == [
        (user.pk, image_server.url("/ann.png"), "scim")
    ]
    # The row is in the outbox: the catch-up does not queue a second fetch of it.
    assert tasks.photo_fetch_catch_up() == 0

    monkeypatch.undo()  # the broker is back: beat's drain runs
    assert tasks.photo_fetches_drain() == 1
    assert _stored(user).source == ImageSource.SCIM
    assert not PendingPhotoFetch.objects.exists()
    assert tasks.photo_fetches_drain() == 0
    assert tasks.photo_fetch_catch_up() == 0
    assert image_server.hits == ["/ann.png"]


def test_catch_up_skips_handled_urls_and_recent_failures_and_retries_old_ones(
    eager_celery, private_allowed, image_server
):
    import datetime as dt

    from django.utils import timezone

    image_server.routes["/ok.png"] = Route(body=PNG)
    handled = UserFactory(photo_url=image_server.url("/ok.png"))
    photo_fetch_run(user_id=handled.pk, url=handled.photo_url)
    failed_recently = UserFactory(photo_url=image_server.url("/gone.png"))
    photo_fetch_run(user_id=failed_recently.pk, url=failed_recently.photo_url)
    failed_long_ago = UserFactory(photo_url=image_server.url("/gone-too.png"))
    photo_fetch_run(user_id=failed_long_ago.pk, url=failed_long_ago.photo_url)
    ProfileImage.objects.filter(user=failed_long_ago).update(
        last_failure_at=timezone.now() - dt.timedelta(days=2)
    )
    UserFactory(photo_url="")
    never_fetched = UserFactory(photo_url=image_server.url("/ok.png"))
    image_server.hits.clear()

    assert tasks.photo_fetch_catch_up() == 2

    assert sorted(image_server.hits) == ["/gone-too.png", "/ok.png"]
    assert _stored(never_fetched).has_image


def test_a_manual_upload_is_not_overwritten_by_the_catch_up(
    eager_celery, private_allowed, image_server
):
    image_server.routes["/idp.png"] = Route(body=PNG)
    user = UserFactory(photo_url=image_server.url("/idp.png"))
    profile_image_store(user=user, data=JPEG, source=ImageSource.UPLOAD, actor=Actor.admin(user))

    assert tasks.photo_fetch_catch_up() == 0
    assert _stored(user).source == ImageSource.UPLOAD
    assert image_server.hits == []


def test_deleting_a_user_deletes_their_image_files(committing, media_root, user_with_image):
    from users.services import user_delete

    user, profile = user_with_image
    bystander = UserFactory()
    kept = profile_image_store(
        user=bystander, data=JPEG, source=ImageSource.ADMIN, actor=Actor.system("tests")
    )
    assert (media_root / profile.storage_name).exists()

    with committing():
        user_delete(user=user, actor=Actor.system("tests"))

    assert not (media_root / profile.storage_name).exists()
    assert (media_root / kept.storage_name).exists()  # same bytes, another user's file


def test_clearing_the_photo_url_keeps_the_stored_image(
    committing, eager_celery, private_allowed, image_server
):
    image_server.routes["/p.png"] = Route(body=PNG)
    user = UserFactory()
    with committing():
        _set_photo(user, image_server.url("/p.png"))
    before = _stored(user)

    with committing():
        _set_photo(User.objects.get(pk=user.pk), "")

    after = _stored(user)
    assert (after.storage_name, after.sha256) == (before.storage_name, before.sha256)
    assert image_server.hits == ["/p.png"]
