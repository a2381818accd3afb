"""Every HTML page carries a strict Content-Security-Policy and still renders under it
(issue 8, finding 19): no inline script, style or event handler runs unless it carries
the request's nonce, forms post to this site (the SAML POST binding: also to its IdP)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media.models import ImageSource
from media.services import profile_image_store
from sso.keys import key_pair_generate, keys_cache_clear
from sso.models import IdentityProvider
from sso.saml_settings import settings_cache_clear
from tests.factories import UserFactory
from tests.media.conftest import image_bytes
from users.services import Actor

pytestmark = pytest.mark.django_db

_NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")
_INLINE_BLOCK = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
_INLINE_ATTRIBUTE = re.compile(r"<[^>]*\s(style|on[a-z]+)\s*=", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part
    }


def assert_renders_under_the_policy(response) -> None:
    """The header is strict, and everything inline on the page is allowed by it."""
    policy = directives(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    for name in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[name] and "'unsafe-eval'" not in policy[name]
    nonce = _NONCE.search(response["Content-Security-Policy"]).group(1)
    body = response.content.decode()
    for tag, attributes in _INLINE_BLOCK.findall(body):
        if tag.lower() == "script" and "src=" in attributes:
            continue
        assert f'nonce="{nonce}"' in attributes, f"inline <{tag}{attributes}> lacks the nonce"
    assert not _INLINE_ATTRIBUTE.search(body), _INLINE_ATTRIBUTE.search(body).group(0)


@pytest.fixture
def idp(settings):
    settings.SITE_URL = "http://testserver"
    keys_cache_clear()
    settings_cache_clear()
    pem, _key = key_pair_generate("idp.example.com")
    yield IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        sso_binding="post",
        signing_certificates=["".join(pem.splitlines()[1:-1])],
    )
    keys_cache_clear()
    settings_cache_clear()


@pytest.fixture
def pictured_user(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = UserFactory()
    profile_image_store(
        user=user, data=image_bytes("PNG"), source=ImageSource.ADMIN, actor=Actor.system("t")
    )
    return user


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/users/user/",
        "/admin/users/user/{pk}/change/",
        "/admin/media/profileimage/user/{pk}/",
        "/admin/users/auditevent/",
        "/admin/sso/identityprovider/",
    ],
)
def test_admin_pages_carry_the_policy_and_render(admin_client, pictured_user, path):
    response = admin_client.get(path.format(pk=pictured_user.pk))

    assert response.status_code == 200
    assert_renders_under_the_policy(response)


def test_the_admin_login_page_carries_the_policy(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert_renders_under_the_policy(response)


def test_the_refusal_page_carries_the_policy(client):
    response = client.get("/sso/nobody/login/")

    assert response.status_code == 404
    assert "Sign-in refused" in response.content.decode()
    assert_renders_under_the_policy(response)


def test_the_self_service_image_page_carries_the_policy(client, pictured_user):
    client.force_login(pictured_user)

    page = client.get("/account/")
    refused = client.post(
        "/account/image/",
        {"image": SimpleUploadedFile("x.png", b"junk", content_type="image/png")},
    )

    assert page.status_code == 200 and "Your profile image" in page.content.decode()
    assert "Your profile image" in refused.content.decode()
    assert refused.status_code == 415
    for response in (page, refused):
        assert_renders_under_the_policy(response)


def test_the_post_binding_page_may_post_to_its_idp_and_submits_with_the_nonce(client, idp):
    response = client.get("/sso/acme/login/")

    assert response.status_code == 200
    assert_renders_under_the_policy(response)
    assert directives(response)["form-action"] == ["'self'", "https://idp.example.com"]
    assert "document.forms[0].submit();" in response.content.decode()


def test_a_nonce_is_new_for_every_response(client):
    first, second = client.get("/admin/login/"), client.get("/admin/login/")

    nonces = {_NONCE.search(r["Content-Security-Policy"]).group(1) for r in (first, second)}
    assert len(nonces) == 2


def test_the_server_error_page_carries_the_policy(rf):
    from axero_idp.csp import ContentSecurityPolicyMiddleware
    from axero_idp.views import server_error

    response = ContentSecurityPolicyMiddleware(server_error)(rf.get("/somewhere"))

    assert response.status_code == 500
    assert_renders_under_the_policy(response)


def test_a_response_with_its_own_policy_keeps_it(client, provisioning_token, pictured_user):
    response = client.get(
        f"/api/v1/users/{pictured_user.pk}/image/",
        HTTP_AUTHORIZATION=f"Bearer {provisioning_token}",
    )

    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_json_responses_carry_no_html_policy(client):
    assert "Content-Security-Policy" not in client.get("/healthz")
