"""/api/v1/users/{id}/image/ with a staff session: CSRF is enforced on writes, and the
upload cap applies before the CSRF check reads the body."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from media.models import ImageSource, ProfileImage
from media.services import profile_image_store
from tests.factories import UserFactory, staff_with
from tests.media.conftest import image_bytes
from users.services import Actor

pytestmark = pytest.mark.django_db

PNG = image_bytes("PNG", size=(30, 30))
CSRF_SECRET = "a" * 32  # a well-formed token, as a browser would hold in its cookie
CSRF_MISSING = {"detail": "CSRF Failed: CSRF cookie not set."}


def url(user) -> str:
    return f"/api/v1/users/{user.pk}/image/"


@pytest.fixture
def staff_browser(media_root):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_with("users.change_user"))
    return browser


def test_a_staff_session_post_without_a_csrf_token_is_refused(staff_browser):
    user = UserFactory()

    response = staff_browser.post(url(user), {"image": SimpleUploadedFile("a.png", PNG)})

    assert (response.status_code, response.json()) == (403, CSRF_MISSING)
    assert not ProfileImage.objects.filter(user=user).exists()


def test_a_staff_session_delete_without_a_csrf_token_is_refused(staff_browser):
    user = UserFactory()
    profile_image_store(user=user, data=PNG, source=ImageSource.ADMIN, actor=Actor.system("t"))

    response = staff_browser.delete(url(user))

    assert (response.status_code, response.json()) == (403, CSRF_MISSING)
    assert ProfileImage.objects.get(user=user).has_image


def test_a_staff_session_post_with_the_csrf_token_stores_the_image(staff_browser):
    user = UserFactory()
    staff_browser.cookies["csrftoken"] = CSRF_SECRET

    response = staff_browser.post(
        url(user), {"image": SimpleUploadedFile("a.png", PNG)}, HTTP_X_CSRFTOKEN=CSRF_SECRET
    )

    assert response.status_code == 201
    assert ProfileImage.objects.get(user=user).source == ImageSource.API


def test_a_staff_sessions_oversized_declared_body_is_refused_before_the_csrf_check_reads_it(
    staff_browser,
):
    user = UserFactory()
    staff_browser.cookies["csrftoken"] = CSRF_SECRET

    # The body is 5 bytes; reading past them (as the CSRF check's request.POST would)
    # fails the test client's FakePayload.
    response = staff_browser.post(
        url(user),
        b"abcde",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(10 * 1024 * 1024),  # over the endpoint cap, under the global one
        HTTP_X_CSRFTOKEN=CSRF_SECRET,
    )

    assert (response.status_code, response.json()) == (
        413,
        {"error": "too_large", "detail": "larger than 5 MB"},
    )


def test_a_staff_sessions_oversized_streamed_upload_is_413(staff_browser):
    user = UserFactory()
    staff_browser.cookies["csrftoken"] = CSRF_SECRET
    too_big = SimpleUploadedFile("a.png", b"\0" * (5 * 1024 * 1024 + 1))

    response = staff_browser.post(url(user), {"image": too_big}, HTTP_X_CSRFTOKEN=CSRF_SECRET)

    assert (response.status_code, response.json()) == (
        413,
        {"error": "too_large", "detail": "larger than 5 MB"},
    )
    assert not ProfileImage.objects.filter(user=user).exists()


def _stored_image_of(user):
    return profile_image_store(
        user=user, data=PNG, source=ImageSource.ADMIN, actor=Actor.system("t")
    )


def test_a_deactivated_persons_session_no_longer_gets_their_image(media_root):
    user = UserFactory()
    _stored_image_of(user)
    browser = Client()
    browser.force_login(user)
    assert browser.get(url(user)).status_code == 200

    type(user).objects.filter(pk=user.pk).update(is_active=False)
    response = browser.get(url(user))

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )


def test_a_revoked_token_is_a_401_for_every_method(client, provisioning_token, media_root):
    from scim.tokens import scim_token_revoke

    user = UserFactory()
    _stored_image_of(user)
    scim_token_revoke(name="onelogin", actor=Actor.system("tests"))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {provisioning_token}"}

    answers = [
        client.get(url(user), **auth),
        client.post(url(user), {"image": SimpleUploadedFile("a.png", PNG)}, **auth),
        client.delete(url(user), **auth),
    ]

    assert [(a.status_code, a.json()) for a in answers] == [
        (401, {"detail": "invalid or revoked provisioning token"})
    ] * 3
    assert ProfileImage.objects.get(user=user).has_image


def test_another_person_cannot_tell_whether_a_user_exists(media_root):
    browser = Client()
    browser.force_login(UserFactory())

    missing = browser.get("/api/v1/users/00000000-0000-0000-0000-000000000000/image/")
    not_a_uuid = browser.get("/api/v1/users/not-a-uuid/image/")

    assert (missing.status_code, not_a_uuid.status_code) == (403, 403)


def test_a_person_gets_their_own_image_whatever_the_case_of_the_id(media_root):
    user = UserFactory()
    _stored_image_of(user)
    browser = Client()
    browser.force_login(user)

    response = browser.get(f"/api/v1/users/{str(user.pk).upper()}/image/")

    assert response.status_code == 200
