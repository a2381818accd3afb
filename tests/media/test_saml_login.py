"""SAML-only companies: the photo URL attribute of a login is fetched, end to end
against the pysaml2 IdP (the fixtures of tests/sso/)."""

from __future__ import annotations

import pytest

from media.models import ImageSource, ProfileImage
from tests.media.conftest import Route, image_bytes
from tests.sso.conftest import (  # noqa: F401  (fixtures)
    browser,
    identity_user,
    peer,
    peer_keys,
    site,
    xmlsec1,
)

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"


def test_a_login_with_a_photo_attribute_stores_the_image(
    browser,  # noqa: F811
    committing,
    eager_celery,
    private_allowed,
    image_server,
):
    image_server.routes["/ann.jpg"] = Route(body=image_bytes("JPEG", size=(300, 200)))
    photo = image_server.url("/ann.jpg")

    with committing():
        browser.login(ANN, {"User.email": ANN, "photo": photo})

    user = identity_user(ANN)
    stored = ProfileImage.objects.get(user=user)
    assert (stored.source, stored.source_url, stored.width, stored.height) == (
        ImageSource.SAML,
        photo,
        300,
        200,
    )
    me = browser.client.get("/api/v1/me/").json()
    assert me["imageUrl"] == f"http://testserver/api/v1/users/{user.pk}/image/?v={stored.version}"
    assert browser.client.get(f"/api/v1/users/{user.pk}/image/").status_code == 200

    with committing():
        browser.login(ANN, {"User.email": ANN, "photo": photo})  # the same URL again

    assert image_server.hits == ["/ann.jpg"]
