"""The admin's image page and the self-service page: render, upload, remove, CSRF."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media.models import ImageSource, ProfileImage
from media.services import photo_fetch_failure_record, profile_image_store
from tests.factories import UserFactory
from tests.media.conftest import image_bytes
from users.models import AuditEvent
from users.services import Actor

pytestmark = pytest.mark.django_db

PNG = image_bytes("PNG", size=(40, 40))
GIF = image_bytes("GIF", size=(20, 20))


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(page) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match, "the page has no CSRF token"
    return match.group(1)


def _upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("me.png", data, content_type="image/png")


# --- admin ----------------------------------------------------------------------------


def test_the_user_page_shows_no_image_with_an_upload_link(admin_client):
    user = UserFactory()

    page = admin_client.get(f"/admin/users/user/{user.pk}/change/")

    assert page.status_code == 200
    assert (
        f'No image. <a href="/admin/media/profileimage/user/{user.pk}/">Upload one</a>'
        in page.content.decode()
    )


def test_the_user_page_previews_the_image_and_the_last_fetch_failure(admin_client, media_root):
    user = UserFactory(photo_url="https://photos.example.com/u.png")
    profile = profile_image_store(
        user=user, data=PNG, source=ImageSource.SCIM, actor=Actor.system("tests")
    )
    photo_fetch_failure_record(
        user_id=user.pk, url=user.photo_url, reason="image URL answered HTTP 404"
    )

    body = admin_client.get(f"/admin/users/user/{user.pk}/change/").content.decode()

    assert (
        f'<img src="http://127.0.0.1:8000/api/v1/users/{user.pk}/image/?v={profile.version}"'
        in body
    )
    assert "40x40 px, SCIM photo URL" in body
    assert "image URL answered HTTP 404" in body


def test_the_user_change_form_still_saves_without_image_fields(admin_client):
    user = UserFactory(first_name="Old")
    page = admin_client.get(f"/admin/users/user/{user.pk}/change/")
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and name in page.context["adminform"].form.fields
    }
    data.update({"username": user.username, "first_name": "New", "email": user.email})

    response = admin_client.post(f"/admin/users/user/{user.pk}/change/", data)

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.first_name == "New"


def test_admin_uploads_replaces_and_removes_with_csrf(admin_user, committing, media_root):
    user = UserFactory()
    client = _csrf_client(admin_user)
    page_url = f"/admin/media/profileimage/user/{user.pk}/"

    page = client.get(page_url)
    assert page.status_code == 200
    assert "No profile image." in page.content.decode()
    refused = client.post(page_url, {"image": _upload(PNG)})
    assert refused.status_code == 403  # no CSRF token
    assert not ProfileImage.objects.filter(user=user).exists()

    with committing():
        stored = client.post(page_url, {"image": _upload(PNG), "csrfmiddlewaretoken": _token(page)})
    assert (stored.status_code, stored["Location"]) == (302, page_url)
    first = ProfileImage.objects.get(user=user)
    assert (first.source, first.content_type) == ("admin", "image/png")

    page = client.get(page_url)
    assert f"/api/v1/users/{user.pk}/image/?v={first.version}" in page.content.decode()
    with committing():
        client.post(page_url, {"image": _upload(GIF), "csrfmiddlewaretoken": _token(page)})
    assert ProfileImage.objects.get(user=user).content_type == "image/gif"
    assert not (media_root / first.storage_name).exists()

    with committing():
        removed = client.post(page_url, {"action": "remove", "csrfmiddlewaretoken": _token(page)})
    assert removed.status_code == 302
    assert not ProfileImage.objects.get(user=user).has_image
    assert list(
        AuditEvent.objects.filter(target_id=str(user.pk), action__startswith="image.")
        .order_by("id")
        .values_list("action", "actor_kind", "actor_name")
    ) == [
        ("image.updated", "admin", "root"),
        ("image.updated", "admin", "root"),
        ("image.removed", "admin", "root"),
    ]


def test_admin_upload_refusal_is_a_message_and_changes_nothing(admin_client):
    user = UserFactory()

    response = admin_client.post(
        f"/admin/media/profileimage/user/{user.pk}/", {"image": _upload(b"not an image")}
    )

    assert response.status_code == 415
    # Admin messages are shown with a capital first letter.
    assert '<li class="error">Not a JPEG, PNG or GIF image</li>' in response.content.decode()
    assert not ProfileImage.objects.filter(user=user).exists()


def test_staff_without_change_permission_cannot_use_the_admin_page(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    user = UserFactory()

    assert client.get(f"/admin/media/profileimage/user/{user.pk}/").status_code == 403


# --- self-service ---------------------------------------------------------------------


def test_the_self_service_page_needs_a_login(client):
    response = client.get("/account/image/")

    assert response.status_code == 302
    # The sign-in page (/): SSO users have no password for the admin's form.
    assert response["Location"] == "/?next=/account/image/"


def test_a_person_uploads_and_removes_their_own_image_with_csrf(committing, media_root):
    user = UserFactory()
    client = _csrf_client(user)

    page = client.get("/account/")  # the form lives on the account page
    assert page.status_code == 200
    assert "No image" in page.content.decode()
    assert client.post("/account/image/", {"image": _upload(PNG)}).status_code == 403

    with committing():
        stored = client.post(
            "/account/image/", {"image": _upload(PNG), "csrfmiddlewaretoken": _token(page)}
        )
    assert (stored.status_code, stored["Location"]) == (302, "/account/")
    profile = ProfileImage.objects.get(user=user)
    assert profile.source == "upload"
    page = client.get("/account/")
    body = page.content.decode()
    assert "Your profile image was updated." in body
    assert f'src="/people/{user.pk}/photo/?v={profile.version}"' in body
    assert client.get(f"/api/v1/users/{user.pk}/image/").status_code == 200

    with committing():
        client.post("/account/image/", {"action": "remove", "csrfmiddlewaretoken": _token(page)})
    assert not ProfileImage.objects.get(user=user).has_image
    assert not (media_root / profile.storage_name).exists()
    event = AuditEvent.objects.get(action="image.removed")
    assert (event.actor_kind, event.actor_name, event.target_id) == (
        "person",
        user.username,
        str(user.pk),
    )


def test_a_refused_self_service_upload_shows_the_reason(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post("/account/image/", {"image": _upload(b"<svg onload=alert(1)>")})

    assert response.status_code == 415
    assert "not a JPEG, PNG or GIF image" in response.content.decode()
    assert not ProfileImage.objects.filter(user=user).exists()


def test_an_oversized_self_service_body_is_refused_unread(client):
    client.force_login(UserFactory())

    response = client.post(
        "/account/image/",
        b"abcde",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(10 * 1024 * 1024),  # over the endpoint cap, under the global one
    )

    assert (response.status_code, response.content) == (413, b"The image is larger than 5 MB.")
