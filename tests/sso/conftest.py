"""Fixtures for the SAML end-to-end tests: an independent pysaml2 IdP (tests/sso/idp_peer/)
imported through `manage.py saml_idp import`, and a small browser-like driver around
Django's test client that walks the login and logout redirects."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from sso.models import LoginFlow
from tests.conftest import ci_requires
from tests.sso.idp_peer import AuthnRequestSeen, IdpPeer, KeyPair, post_form
from users.models import AuditEvent

SLUG = "onelogin"


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    """The peer signs with Debian's xmlsec1; CI must have it (fail, not skip)."""
    path = shutil.which("xmlsec1")
    if path is None:
        ci_requires("xmlsec1")
    return str(path)


@pytest.fixture(scope="session")
def peer_keys(tmp_path_factory, xmlsec1) -> dict[str, KeyPair]:
    """RSA keys are slow to make: one set for the whole run."""
    directory = tmp_path_factory.mktemp("idp-keys")
    return {
        name: KeyPair.generate(directory, name)
        for name in ("idp-signing", "idp-next", "foreign", "other-idp")
    }


@pytest.fixture
def site(settings) -> str:
    settings.SITE_URL = "http://testserver"
    return settings.SITE_URL


def idp_import(peer: IdpPeer, slug: str, *extra: str, keys: list[KeyPair] | None = None) -> None:
    path = peer.write_metadata(peer.directory / f"{slug}-metadata.xml", keys=keys)
    call_command("saml_idp", "import", "--slug", slug, "--metadata-file", str(path), *extra)


def idp_update(slug: str, **fields: Any) -> None:
    from sso.models import IdentityProvider

    IdentityProvider.objects.filter(slug=slug).update(**fields)


@pytest.fixture
def peer(db, site, tmp_path, peer_keys, client) -> IdpPeer:
    """The IdP, imported as SLUG from its metadata, trusting our SP's metadata."""
    idp = IdpPeer(tmp_path / "idp", key=peer_keys["idp-signing"])
    idp_import(idp, SLUG)
    metadata = client.get(f"/sso/{SLUG}/metadata/")
    assert metadata.status_code == 200, metadata.content[:500]
    idp.trust_sp(metadata.content)
    assert idp.sp is not None
    assert idp.sp.entity_id == f"http://testserver/sso/{SLUG}/metadata/"
    return idp


@dataclass
class Login:
    request: AuthnRequestSeen
    session_key_before: str | None


class Browser:
    """Drives the SP the way a browser would, with the IdP peer on the other side."""

    def __init__(self, client: Client, peer: IdpPeer, slug: str = SLUG) -> None:
        self.client = client
        self.peer = peer
        self.slug = slug

    @property
    def acs(self) -> str:
        return f"/sso/{self.slug}/acs/"

    def start(self, next_path: str | None = None) -> Login:
        """GET the login URL; the SP redirects to the IdP with a signed AuthnRequest."""
        query = {"next": next_path} if next_path is not None else {}
        response = self.client.get(f"/sso/{self.slug}/login/", query)
        assert response.status_code == 302, response.content[:500]
        request = self.peer.authn_request_read(response["Location"])
        assert request.signed, "the AuthnRequest must be signed with the SP key"
        return Login(request=request, session_key_before=self.client.session.session_key)

    def post(self, xml: str, relay_state: str | None = None, **extra: Any):
        """POST a Response to the ACS, following the SP's redirects."""
        return self.client.post(self.acs, post_form(xml, relay_state), follow=True, **extra)

    def login(
        self,
        name_id: str,
        attributes: dict[str, Any] | None = None,
        next_path: str | None = None,
        **response_options: Any,
    ):
        """A complete SP-initiated login; returns the final response."""
        started = self.start(next_path)
        xml = self.peer.response_xml(
            name_id=name_id,
            attributes=attributes if attributes is not None else {"User.email": name_id},
            in_response_to=started.request.id,
            **response_options,
        )
        return self.post(xml, started.request.relay_state)

    def logged_in_user_id(self) -> str | None:
        return self.client.session.get("_auth_user_id")


@pytest.fixture
def browser(client, peer) -> Browser:
    return Browser(client, peer)


@dataclass
class Refusal:
    """A kept refusal: its audit event's detail (reason, message, reference) and, for a
    refused login, its login flow, which must say the same."""

    detail: dict[str, Any]
    flow: LoginFlow | None = None


def refusal(slug: str = SLUG, action: str = "saml.login_refused") -> Refusal:
    events = AuditEvent.objects.filter(
        action=action, target_type="identityprovider", target_id=slug
    ).order_by("-id")
    assert events.exists(), f"no {action} audit event for {slug}"
    detail = events[0].detail
    if action != "saml.login_refused":
        return Refusal(detail=detail)
    flows = LoginFlow.objects.filter(idp_slug=slug, outcome="refused").order_by("-id")
    assert flows.exists(), f"no refused login flow for {slug}"
    flow = flows[0]
    kept = {"reason": flow.reason, "message": flow.message, "reference": flow.reference}
    assert kept == {key: detail[key] for key in kept}, (kept, detail)
    return Refusal(detail=detail, flow=flow)


def assert_refused(
    response,
    client: Client,
    reason: str | set[str],
    *,
    status: int = 400,
    slug: str = SLUG,
    action: str = "saml.login_refused",
) -> Refusal:
    """A refusal: the status, no session, the login flow (or the logout's audit event)
    with the reason code, and a page that shows the support reference (never the
    assertion)."""
    assert response.status_code == status, (response.status_code, response.content[:800])
    assert "_auth_user_id" not in client.session
    event = refusal(slug, action)
    reasons = {reason} if isinstance(reason, str) else reason
    assert event.detail["reason"] in reasons, event.detail
    assert event.detail["message"]
    assert event.detail["reference"]
    assert event.detail["reference"] in response.content.decode()
    assert "SAMLResponse" not in str(event.detail)
    if event.flow is not None:
        assert "SAMLResponse" not in str(event.flow.attributes)
        assert "Assertion" not in str(event.flow.attributes)
    return event


def identity_user(name_id: str, slug: str = SLUG):
    """The user an IdP's NameID is linked to (SamlIdentity)."""
    from sso.models import SamlIdentity

    return SamlIdentity.objects.select_related("user").get(idp__slug=slug, name_id=name_id).user


def roles_of(user) -> dict[str, set[str]]:
    """{role name: {sources}} for a user."""
    out: dict[str, set[str]] = {}
    for membership in user.role_memberships.select_related("role"):
        out.setdefault(membership.role.display_name, set()).add(membership.source)
    return out


def write_json(path: Path, data: Any) -> Path:
    import json

    path.write_text(json.dumps(data))
    return path
