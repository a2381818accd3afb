"""/people/<id>/photo/: the photo the employee pages show. Any signed-in person sees an
active colleague's photo (as they see their name); the image API stays strict."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import ImageSource
from media.services import profile_image_store
from tests.media.conftest import image_bytes
from users.models import User
from users.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def pictured(org, settings, tmp_path, committing) -> User:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with committing():
        profile_image_store(
            user=org.lead, data=image_bytes("PNG", size=(40, 40)),
            source=ImageSource.UPLOAD, actor=Actor.system("t"),
        )  # fmt: skip
    org.lead.refresh_from_db()
    return org.lead


def test_a_colleague_sees_the_photo_the_pages_link(ann_client, org, pictured):
    url = f"/people/{pictured.pk}/photo/?v={pictured.image_version}"

    page = ann_client.get(f"/people/{pictured.pk}/").content.decode()
    photo = ann_client.get(url)

    assert f'<img class="avatar large" src="{url}" alt=""' in page
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/png")
    assert photo["Content-Security-Policy"] == "default-src 'none'"
    assert photo["X-Content-Type-Options"] == "nosniff"
    assert ann_client.get(url, HTTP_IF_NONE_MATCH=photo["ETag"]).status_code == 304
    # The image API still serves only tokens, permitted staff and the person themself.
    assert ann_client.get(f"/api/v1/users/{pictured.pk}/image/").status_code == 403


def test_no_photo_for_the_deactivated_the_unknown_or_the_anonymous(ann_client, pictured):
    anonymous = Client().get(f"/people/{pictured.pk}/photo/")
    User.objects.filter(pk=pictured.pk).update(is_active=False)

    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        f"/?next=/people/{pictured.pk}/photo/",
    )
    assert ann_client.get(f"/people/{pictured.pk}/photo/").status_code == 404
    assert (
        ann_client.get(f"/people/{User.objects.get(username='ann').pk}/photo/").status_code == 404
    )
