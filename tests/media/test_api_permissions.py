"""is_staff is not a permission (issue 8, finding 13): a staff account without model
permissions cannot read, replace or remove another person's image through
/api/v1/users/{id}/image/; the permissions admin asks for (users.view_user to look,
users.change_user to change) decide, as on the user's admin page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media.models import ImageSource, ProfileImage
from media.services import profile_image_store
from tests.factories import UserFactory, staff_with
from tests.media.conftest import image_bytes
from users.models import AuditEvent
from users.services import Actor

pytestmark = pytest.mark.django_db

JPEG = image_bytes("JPEG", size=(120, 90))
PNG = image_bytes("PNG", size=(30, 30))


@pytest.fixture
def victim(media_root):
    user = UserFactory()
    profile_image_store(user=user, data=JPEG, source=ImageSource.ADMIN, actor=Actor.system("t"))
    return user


def _url(user) -> str:
    return f"/api/v1/users/{user.pk}/image/"


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _forbidden(action: str) -> dict[str, str]:
    return {
        "error": "forbidden",
        "detail": f"only a provisioning token or staff with the permission to {action} users "
        "may manage this image",
    }


def _png() -> SimpleUploadedFile:
    return SimpleUploadedFile("evil.png", PNG, content_type="image/png")


def test_staff_without_permissions_cannot_replace_anyones_image(victim):
    bare_staff = _session(staff_with())

    posted = bare_staff.post(_url(victim), {"image": _png()})
    deleted = bare_staff.delete(_url(victim))
    read = bare_staff.get(_url(victim))

    assert (posted.status_code, posted.json()) == (403, _forbidden("change"))
    assert (deleted.status_code, deleted.json()) == (403, _forbidden("change"))
    assert (read.status_code, read.json()) == (403, _forbidden("view"))
    assert ProfileImage.objects.get(user=victim).content_type == "image/jpeg"
    assert (
        not AuditEvent.objects.filter(action__in=["image.updated", "image.removed"])
        .filter(actor_kind="admin")
        .exists()
    )


def test_view_permission_reads_but_does_not_write(victim):
    viewer = _session(staff_with("users.view_user"))

    assert viewer.get(_url(victim)).status_code == 200
    assert viewer.post(_url(victim), {"image": _png()}).json() == _forbidden("change")
    assert ProfileImage.objects.get(user=victim).content_type == "image/jpeg"


def test_change_permission_replaces_the_image(victim):
    editor = _session(staff_with("users.change_user"))

    response = editor.post(_url(victim), {"image": _png()})

    assert response.status_code == 201, response.content
    assert ProfileImage.objects.get(user=victim).content_type == "image/png"


def test_a_deactivated_staff_account_with_permission_is_refused(victim):
    editor = staff_with("users.change_user")
    client = _session(editor)
    editor.is_active = False
    editor.save(update_fields=["is_active"])

    assert client.post(_url(victim), {"image": _png()}).status_code in (401, 403)
