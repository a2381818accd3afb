"""/api/v1/users/{id}/image/: who may do what, exact bodies, ETag/304, limits."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import ImageSource, ProfileImage
from media.services import profile_image_store
from tests.factories import UserFactory, staff_with
from tests.media.conftest import image_bytes, png_bomb
from users.models import AuditEvent, User
from users.services import Actor

pytestmark = pytest.mark.django_db

JPEG = image_bytes("JPEG", size=(120, 90))
PNG = image_bytes("PNG", size=(30, 30))
FORBIDDEN_READ = {
    "error": "forbidden",
    "detail": "only a provisioning token or staff with the permission to view users may "
    "manage this image",
}
FORBIDDEN = {
    "error": "forbidden",
    "detail": "only a provisioning token or staff with the permission to change users may "
    "manage this image",
}
ANONYMOUS = {"detail": "Authentication credentials were not provided."}


def url(user) -> str:
    return f"/api/v1/users/{user.pk}/image/"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def subject(media_root):
    user = UserFactory()
    profile = profile_image_store(
        user=user, data=JPEG, source=ImageSource.ADMIN, actor=Actor.system("tests")
    )
    return user, profile


@pytest.fixture
def staff_client(client):
    client.force_login(staff_with("users.change_user"))
    return client


def test_token_gets_the_image_with_safe_headers(client, provisioning_token, subject, media_root):
    user, profile = subject

    response = client.get(url(user), **bearer(provisioning_token))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (media_root / profile.storage_name).read_bytes()
    assert response["Content-Type"] == "image/jpeg"
    assert response["ETag"] == f'"{profile.sha256}"'
    assert response["Cache-Control"] == "private"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_staff_session_and_the_user_themself_may_get(staff_client, subject):
    user, _ = subject
    own = Client()
    own.force_login(user)

    assert staff_client.get(url(user)).status_code == 200
    assert own.get(url(user)).status_code == 200


def test_another_person_is_forbidden_and_anonymous_is_unauthenticated(client, subject):
    user, _ = subject
    other = Client()
    other.force_login(UserFactory())

    forbidden = other.get(url(user))
    anonymous = client.get(url(user))

    assert (forbidden.status_code, forbidden.json()) == (403, FORBIDDEN_READ)
    assert (anonymous.status_code, anonymous.json()) == (401, ANONYMOUS)
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="axero-idp"'


def test_a_person_may_not_post_or_delete_even_their_own_image(subject):
    user, _ = subject
    own = Client()
    own.force_login(user)

    posted = own.post(url(user), {"image": _file(PNG)})
    deleted = own.delete(url(user))

    assert (posted.status_code, posted.json()) == (403, FORBIDDEN)
    assert (deleted.status_code, deleted.json()) == (403, FORBIDDEN)
    assert ProfileImage.objects.get(user=user).content_type == "image/jpeg"


def test_a_bad_token_is_a_401(client, subject):
    user, _ = subject

    response = client.get(url(user), **bearer("nope"))

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or revoked provisioning token"}


def test_etag_answers_304(client, provisioning_token, subject):
    user, profile = subject

    response = client.get(
        url(user), HTTP_IF_NONE_MATCH=f'"{profile.sha256}"', **bearer(provisioning_token)
    )
    changed = client.get(
        url(user), HTTP_IF_NONE_MATCH='"something-else"', **bearer(provisioning_token)
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{profile.sha256}"'
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/users/00000000-0000-0000-0000-000000000000/image/",
            {"error": "not_found", "detail": "user not found"},
        ),
        ("/api/v1/users/not-a-uuid/image/", {"error": "not_found", "detail": "user not found"}),
    ],
)
def test_unknown_users_are_404_json(client, provisioning_token, path, body):
    response = client.get(path, **bearer(provisioning_token))

    assert (response.status_code, response.json()) == (404, body)


def test_a_user_without_an_image_is_404_json(client, provisioning_token):
    user = UserFactory()

    response = client.get(url(user), **bearer(provisioning_token))

    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "the user has no profile image"},
    )


def _file(data: bytes, name: str = "photo.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_add_user_image_stores_it_and_answers_201(
    client, provisioning_token, committing, media_root
):
    user = UserFactory()

    with committing():
        response = client.post(url(user), {"image": _file(PNG)}, **bearer(provisioning_token))

    profile = ProfileImage.objects.get(user=user)
    assert response.status_code == 201
    assert response.json() == {
        "userId": str(user.pk),
        "url": f"http://127.0.0.1:8000/api/v1/users/{user.pk}/image/?v={profile.sha256[:16]}",
        "contentType": "image/png",
        "width": 30,
        "height": 30,
        "byteSize": profile.byte_size,
        "sha256": profile.sha256,
        "source": "api",
        "updatedAt": profile.updated_at.isoformat(),
    }
    assert (media_root / profile.storage_name).stat().st_size == profile.byte_size
    event = AuditEvent.objects.get(action="image.updated")
    assert (event.actor_kind, event.actor_name, event.target_id) == (
        "scim",
        "onelogin",
        str(user.pk),
    )


def test_replacing_deletes_the_old_file_after_commit(staff_client, subject, committing, media_root):
    user, before = subject

    with committing():
        response = staff_client.post(url(user), {"image": _file(PNG)})

    after = ProfileImage.objects.get(user=user)
    assert response.status_code == 201
    assert not (media_root / before.storage_name).exists()
    assert (media_root / after.storage_name).exists()
    assert (
        AuditEvent.objects.get(action="image.updated", actor_kind="admin").detail["source"] == "api"
    )


def test_the_same_image_twice_keeps_one_file(client, provisioning_token, committing, media_root):
    user = UserFactory()

    with committing():
        first = client.post(url(user), {"image": _file(PNG)}, **bearer(provisioning_token))
        second = client.post(url(user), {"image": _file(PNG)}, **bearer(provisioning_token))

    assert first.json()["sha256"] == second.json()["sha256"]
    name = ProfileImage.objects.get(user=user).storage_name
    assert (media_root / name).exists()
    assert [p.name for p in media_root.rglob("*.png")] == [name.rsplit("/", 1)[1]]


@pytest.mark.parametrize(
    ("data", "status", "body"),
    [
        (
            b"<html>hi</html>",
            415,
            {"error": "unsupported_media_type", "detail": "not a JPEG, PNG or GIF image"},
        ),
        (
            png_bomb(),
            400,
            {"error": "invalid_image", "detail": "image dimensions 40000x40000 exceed the limit"},
        ),
        (
            image_bytes("PNG")[:70],
            400,
            {"error": "invalid_image", "detail": "could not be decoded"},
        ),
        (b"\0" * (5 * 1024 * 1024 + 1), 413, {"error": "too_large", "detail": "larger than 5 MB"}),
    ],
    ids=["html", "bomb", "truncated", "too-large"],
)
def test_refused_uploads_change_nothing(client, provisioning_token, subject, data, status, body):
    user, before = subject

    response = client.post(url(user), {"image": _file(data)}, **bearer(provisioning_token))

    assert (response.status_code, response.json()) == (status, body)
    assert ProfileImage.objects.get(user=user).sha256 == before.sha256
    assert not AuditEvent.objects.filter(action="image.updated", actor_kind="scim").exists()


def test_a_missing_field_and_a_json_body_are_explained(client, provisioning_token):
    user = UserFactory()

    missing = client.post(url(user), {"picture": _file(PNG)}, **bearer(provisioning_token))
    as_json = client.post(
        url(user), {"image": "x"}, content_type="application/json", **bearer(provisioning_token)
    )

    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "invalid", "detail": "multipart field 'image' is required"},
    )
    assert (as_json.status_code, as_json.json()) == (
        415,
        {
            "error": "unsupported_media_type",
            "detail": "send the image as multipart/form-data, field 'image'",
        },
    )


def test_an_oversized_declared_body_is_refused_without_reading_it(client, provisioning_token):
    user = UserFactory()

    # The body is 5 bytes; reading past them would fail the test client's FakePayload.
    response = client.post(
        url(user),
        b"abcde",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(10 * 1024 * 1024),  # over the endpoint cap, under the global one
        **bearer(provisioning_token),
    )

    assert (response.status_code, response.json()) == (
        413,
        {"error": "too_large", "detail": "larger than 5 MB"},
    )


def test_delete_removes_the_image_then_404(
    client, provisioning_token, subject, committing, media_root
):
    user, before = subject

    with committing():
        deleted = client.delete(url(user), **bearer(provisioning_token))
    again = client.delete(url(user), **bearer(provisioning_token))
    fetched = client.get(url(user), **bearer(provisioning_token))

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (again.status_code, again.json()) == (
        404,
        {"error": "not_found", "detail": "the user has no profile image"},
    )
    assert fetched.status_code == 404
    assert not (media_root / before.storage_name).exists()
    assert User.objects.get(pk=user.pk).image_version == ""
    event = AuditEvent.objects.get(action="image.removed")
    assert (event.actor_name, event.detail["sha256"]) == ("onelogin", before.sha256)


def test_me_names_the_image_url_once_there_is_one(client, subject):
    user, profile = subject
    plain = UserFactory()

    client.force_login(user)
    with_image = client.get("/api/v1/me/").json()["imageUrl"]
    client.force_login(plain)
    without = client.get("/api/v1/me/").json()["imageUrl"]

    assert (
        with_image == f"http://127.0.0.1:8000/api/v1/users/{user.pk}/image/?v={profile.sha256[:16]}"
    )
    assert without is None
