"""Concurrent writes of one user's image: the pointer never names a deleted file, and
a fetch that raced a manual change does not overwrite it."""

from __future__ import annotations

import pytest

from media import services
from media.models import ImageSource, ProfileImage
from media.services import photo_fetch_run, profile_image_remove, profile_image_store
from tests.factories import UserFactory
from tests.media.conftest import Route, image_bytes
from users.models import AuditEvent
from users.services import Actor

pytestmark = pytest.mark.django_db

FIRST = image_bytes("JPEG", size=(60, 40), color=(200, 0, 0))
SECOND = image_bytes("JPEG", size=(60, 40), color=(0, 0, 200))
ACTOR = Actor.system("tests")


def _store(user, data, source=ImageSource.API):
    return profile_image_store(user=user, data=data, source=source, actor=ACTOR)


def test_storing_the_previous_image_again_while_its_file_awaits_deletion_keeps_a_file(
    django_capture_on_commit_callbacks, media_root
):
    """Worker A replaces FIRST by SECOND; its post-commit deletion of FIRST's file runs
    after worker B stored FIRST again. The pointer must still name a file."""
    user = UserFactory()
    _store(user, FIRST)
    with django_capture_on_commit_callbacks(execute=False) as a_after_commit:
        _store(user, SECOND)  # worker A
    with django_capture_on_commit_callbacks(execute=True):
        _store(user, FIRST)  # worker B, committed first
    for callback in a_after_commit:
        callback()  # worker A's deletion of the file it replaced, late

    current = ProfileImage.objects.get(user=user)
    assert (media_root / current.storage_name).exists()
    assert (media_root / current.storage_name).read_bytes()[:2] == b"\xff\xd8"


def test_removing_then_storing_the_same_image_concurrently_keeps_a_file(
    django_capture_on_commit_callbacks, media_root
):
    user = UserFactory()
    _store(user, FIRST)
    with django_capture_on_commit_callbacks(execute=False) as remove_after_commit:
        profile_image_remove(user=user, actor=ACTOR)
    _store(user, FIRST)
    for callback in remove_after_commit:
        callback()

    current = ProfileImage.objects.get(user=user)
    assert current.has_image
    assert (media_root / current.storage_name).exists()


def test_every_replaced_file_is_deleted_after_commit(committing, media_root):
    user = UserFactory()
    with committing():
        first = _store(user, FIRST).storage_name
    with committing():
        second = _store(user, SECOND).storage_name
    with committing():
        third = _store(user, FIRST).storage_name

    assert len({first, second, third}) == 3
    files = sorted(p.name for p in (media_root / "profile-images").rglob("*") if p.is_file())
    assert files == [third.rsplit("/", 1)[1]]


@pytest.mark.parametrize("manual", ["upload", "remove"])
def test_a_fetch_that_raced_a_manual_change_does_not_overwrite_it(
    private_allowed, image_server, monkeypatch, media_root, manual
):
    """The person uploads (or removes) an image while the fetch of the IdP's photo URL
    is downloading: the person's change was made later and wins."""
    image_server.routes["/idp.jpg"] = Route(body=SECOND)
    user = UserFactory()
    _store(user, FIRST, source=ImageSource.ADMIN)
    user.photo_url = image_server.url("/idp.jpg")  # then the IdP sends a photo URL
    user.save(update_fields=["photo_url"])
    real_download = services.image_download

    def download_while_the_person_acts(url, validators=None):
        data = real_download(url, validators)
        if manual == "upload":
            profile_image_store(
                user=user, data=FIRST, source=ImageSource.UPLOAD, actor=Actor.admin(user)
            )
        else:
            profile_image_remove(user=user, actor=Actor.admin(user))
        return data

    monkeypatch.setattr(services, "image_download", download_while_the_person_acts)

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "superseded"

    current = ProfileImage.objects.get(user=user)
    if manual == "upload":
        assert (current.source, current.width) == (ImageSource.UPLOAD, 60)
        assert (media_root / current.storage_name).exists()
    else:
        assert not current.has_image
    assert not AuditEvent.objects.filter(action="image.updated", actor_name="image fetch").exists()
    # The fetched file is deleted at once; the replaced or removed one goes on commit
    # (which never comes inside this test's transaction).
    files = [p for p in (media_root / "profile-images").rglob("*") if p.is_file()]
    assert len(files) == (2 if manual == "upload" else 1)


def test_a_user_deleted_while_their_photo_downloads_ends_the_task_quietly(
    private_allowed, image_server, monkeypatch, media_root
):
    from users.services import user_delete

    image_server.routes["/idp.jpg"] = Route(body=SECOND)
    user = UserFactory(photo_url=image_server.url("/idp.jpg"))
    real_download = services.image_download

    def download_while_the_user_is_deleted(url, validators=None):
        data = real_download(url, validators)
        user_delete(user=user, actor=ACTOR)
        return data

    monkeypatch.setattr(services, "image_download", download_while_the_user_is_deleted)

    assert photo_fetch_run(user_id=user.pk, url=image_server.url("/idp.jpg")) == "no_user"
    assert not [p for p in media_root.rglob("*") if p.is_file()]  # the new file went too


def test_an_unexpected_error_is_recorded_so_the_catch_up_does_not_repeat_it_forever(
    private_allowed, image_server, monkeypatch, eager_celery
):
    from media import tasks

    image_server.routes["/idp.jpg"] = Route(body=SECOND)
    user = UserFactory(photo_url=image_server.url("/idp.jpg"))

    def broken(data):
        raise KeyError("MPO")

    monkeypatch.setattr(services, "image_normalise", broken)

    with pytest.raises(KeyError):
        tasks.photo_fetch(str(user.pk), user.photo_url)

    state = ProfileImage.objects.get(user=user)
    assert (state.has_image, state.last_failure_reason) == (False, "internal error (KeyError)")
    assert AuditEvent.objects.get(action="image.fetch_failed").detail["reason"] == (
        "internal error (KeyError)"
    )
    assert tasks.photo_fetch_catch_up() == 0
    assert image_server.hits == ["/idp.jpg"]


def test_the_catch_up_does_not_queue_a_url_again_while_its_task_may_still_be_pending(
    monkeypatch, django_assert_max_num_queries
):
    import datetime as dt

    from django.utils import timezone

    from media import tasks

    queued = []
    monkeypatch.setattr(
        tasks.photo_fetch, "apply_async", lambda args, **kwargs: queued.append(tuple(args))
    )
    users = [UserFactory(photo_url=f"https://photos.example.com/{n}.png") for n in range(3)]

    with django_assert_max_num_queries(4):  # select, insert rows, read, update markers
        assert tasks.photo_fetch_catch_up() == 3
    assert tasks.photo_fetch_catch_up() == 0  # still waiting or retrying
    ProfileImage.objects.filter(user=users[0]).update(
        catch_up_queued_at=timezone.now() - dt.timedelta(hours=2)
    )
    users[1].photo_url = "https://photos.example.com/new.png"  # a new URL is new work
    users[1].save(update_fields=["photo_url"])

    assert tasks.photo_fetch_catch_up() == 2

    assert sorted(queued[3:]) == sorted(
        [
            (str(users[0].pk), users[0].photo_url, ""),
            (str(users[1].pk), "https://photos.example.com/new.png", ""),
        ]
    )
    assert not ProfileImage.objects.get(user=users[2]).has_image  # bookkeeping row only
