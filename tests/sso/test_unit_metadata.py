"""IdP metadata: parsing, the SSRF-safe fetch, `manage.py saml_idp import`, the daily
refresh task, and our own SP metadata."""

from __future__ import annotations

import http.server
import io
import threading

import pytest
from django.core.management import CommandError, call_command

from axero_idp.errors import ValidationFailed
from sso import tasks
from sso.keys import key_pair_generate, keys_cache_clear
from sso.metadata import idp_metadata_fetch, idp_metadata_parse
from sso.models import IdentityProvider, OutstandingRequest, SamlSession
from sso.saml_settings import settings_cache_clear
from tests.factories import UserFactory
from users.models import AuditEvent

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def _cert() -> str:
    pem, _key = key_pair_generate("idp.example.com")
    return "".join(pem.splitlines()[1:-1])


CERT_A, CERT_B = _cert(), _cert()


def metadata(
    *, certs=(CERT_A,), sso_binding=REDIRECT, slo=True, entity="https://idp.example.com/md"
) -> str:
    keys = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs
    )
    slo_el = (
        f'<md:SingleLogoutService Binding="{REDIRECT}" Location="https://idp.example.com/slo"/>'
        if slo
        else ""
    )
    return (
        '<?xml version="1.0"?><!-- exported by the IdP -->'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}{slo_el}"
        f'<md:SingleSignOnService Binding="{sso_binding}" Location="https://idp.example.com/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def test_parse_keeps_every_signing_certificate_for_rollover():
    parsed = idp_metadata_parse(metadata(certs=(CERT_A, CERT_B)))

    assert parsed.entity_id == "https://idp.example.com/md"
    assert (parsed.sso_url, parsed.sso_binding) == ("https://idp.example.com/sso", "redirect")
    assert parsed.slo_url == "https://idp.example.com/slo"
    assert parsed.signing_certificates == [CERT_A, CERT_B]


def test_parse_falls_back_to_the_post_binding():
    parsed = idp_metadata_parse(metadata(sso_binding=POST, slo=False))

    assert (parsed.sso_binding, parsed.slo_url) == ("post", "")


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (metadata(certs=()), "metadata: no signing certificate"),
        (
            '<!DOCTYPE x [<!ENTITY a "b">]><x/>',
            "metadata: DOCTYPE or entity declaration in the message",
        ),
        (
            "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>",
            "metadata: no IDPSSODescriptor with an entity ID and an SSO URL",
        ),
    ],
)
def test_parse_refuses_unusable_metadata(xml, message):
    with pytest.raises(ValidationFailed) as caught:
        idp_metadata_parse(xml)
    assert caught.value.detail == message


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    def do_GET(self):
        status, body, headers = self.routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.routes = {}
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.routes
    httpd.shutdown()
    httpd.server_close()


def test_fetch_refuses_plain_http_and_private_addresses(settings):
    settings.SAML_METADATA_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(ValidationFailed) as plain:
        idp_metadata_fetch("http://idp.example.com/md")
    with pytest.raises(ValidationFailed) as private:
        idp_metadata_fetch("https://127.0.0.1/md")

    assert plain.value.detail == "metadata URL must be https"
    assert private.value.detail == "metadata URL: '127.0.0.1' resolves to a non-public address"


def test_fetch_follows_no_redirect_and_caps_the_size(settings, server):
    settings.SAML_METADATA_ALLOW_PRIVATE_NETWORKS = True
    base, routes = server
    routes["/ok"] = (200, metadata().encode(), {})
    routes["/moved"] = (302, b"", {"Location": "http://169.254.169.254/"})
    routes["/huge"] = (200, b" " * (1024 * 1024 + 1), {})

    assert idp_metadata_fetch(base + "/ok") == metadata().encode()
    with pytest.raises(ValidationFailed) as moved:
        idp_metadata_fetch(base + "/moved")
    with pytest.raises(ValidationFailed) as huge:
        idp_metadata_fetch(base + "/huge")

    assert moved.value.detail == "metadata URL answered HTTP 302"
    assert huge.value.detail == "metadata larger than 1048576 bytes"


@pytest.mark.django_db
def test_import_command_creates_then_updates(tmp_path):
    path = tmp_path / "md.xml"
    path.write_text(metadata())
    mapping = tmp_path / "map.json"
    mapping.write_text('{"title": "jobTitle"}')
    out = io.StringIO()

    call_command("saml_idp", "import", "--slug", "acme", "--metadata-file", str(path), stdout=out)
    path.write_text(metadata(certs=(CERT_A, CERT_B)))
    call_command(
        "saml_idp",
        "import",
        "--slug",
        "acme",
        "--metadata-file",
        str(path),
        "--attribute-map",
        str(mapping),
        "--allow-idp-initiated",
        stdout=out,
    )

    assert out.getvalue().splitlines() == [
        "identity provider acme created: entity ID https://idp.example.com/md, 1 signing certificate(s)",
        "identity provider acme updated: entity ID https://idp.example.com/md, 2 signing certificate(s)",
    ]
    idp = IdentityProvider.objects.get(slug="acme")
    assert idp.allow_idp_initiated is True
    assert idp.attribute_map["title"] == ["jobTitle"]
    assert idp.attribute_map["email"][0] == "User.email"
    assert list(
        AuditEvent.objects.filter(target_type="identityprovider").values_list("action", flat=True)
    ) == [
        "sso.idp_updated",
        "sso.idp_created",
    ]
    # The update says what each changed field was before and is now (certificates by
    # fingerprint), as an admin's change in the admin does.
    changes = AuditEvent.objects.get(action="sso.idp_updated").detail["changes"]
    assert changes["allow_idp_initiated"] == [False, True]
    before, after = changes["signing_certificates"]
    assert len(before) == 1 and len(after) == 2 and before[0] in after
    assert all(len(fingerprint) == 16 for fingerprint in after)
    assert set(changes) == {"signing_certificates", "attribute_map", "allow_idp_initiated"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--slug", "Bad_Slug", "--metadata-file", "x"],
            "--slug: 'Bad_Slug' must be lower-case letters, digits and -",
        ),
        (
            ["--slug", "ok", "--metadata-file", "/nonexistent.xml"],
            "--metadata-file: [Errno 2] No such file or directory: '/nonexistent.xml'",
        ),
    ],
)
def test_import_command_errors(args, message):
    with pytest.raises(CommandError) as caught:
        call_command("saml_idp", "import", *args)
    assert str(caught.value) == message


@pytest.mark.django_db
def test_refresh_task_reads_the_metadata_url(settings, server):
    settings.SAML_METADATA_ALLOW_PRIVATE_NETWORKS = True
    base, routes = server
    routes["/md"] = (200, metadata().encode(), {})
    call_command(
        "saml_idp", "import", "--slug", "acme", "--metadata-url", base + "/md", stdout=io.StringIO()
    )
    routes["/md"] = (200, metadata(certs=(CERT_B,)).encode(), {})
    idp = IdentityProvider.objects.get(slug="acme")

    assert tasks.idp_metadata_refresh(idp.pk) is True
    assert tasks.idp_metadata_refresh(idp.pk) is False
    assert IdentityProvider.objects.get(pk=idp.pk).signing_certificates == [CERT_B]


@pytest.mark.django_db
def test_purge_deletes_expired_state_and_dead_saml_sessions(client):
    import datetime as dt

    from django.utils import timezone

    idp = IdentityProvider.objects.create(
        slug="acme", entity_id="e", sso_url="https://i.example.com/"
    )
    OutstandingRequest.objects.create(
        request_id="old",
        idp=idp,
        kind="authn",
        browser="b",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    OutstandingRequest.objects.create(
        request_id="new",
        idp=idp,
        kind="authn",
        browser="b",
        expires_at=timezone.now() + dt.timedelta(minutes=5),
    )
    user = UserFactory()
    client.force_login(user)
    SamlSession.objects.create(
        idp=idp, user=user, session_key=client.session.session_key, name_id="n"
    )
    SamlSession.objects.create(idp=idp, user=user, session_key="gone", name_id="n")

    assert tasks.saml_state_purge() == 2
    assert list(OutstandingRequest.objects.values_list("request_id", flat=True)) == ["new"]
    assert list(SamlSession.objects.values_list("session_key", flat=True)) == [
        client.session.session_key
    ]


@pytest.mark.django_db
def test_sp_metadata_publishes_every_active_certificate(client, settings):
    from sso.keys import sp_key_create, sp_keys_active

    settings.SITE_URL = "https://intranet.example.com"
    keys_cache_clear()
    settings_cache_clear()
    IdentityProvider.objects.create(
        slug="acme", entity_id="e", sso_url="https://i.example.com/", signing_certificates=[CERT_A]
    )
    sp_keys_active()
    sp_key_create(name="sp-key-2")

    response = client.get("/sso/acme/metadata/")

    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    assert 'entityID="https://intranet.example.com/sso/acme/metadata/"' in body
    assert 'Location="https://intranet.example.com/sso/acme/acs/"' in body
    assert 'Location="https://intranet.example.com/sso/acme/sls/"' in body
    assert 'AuthnRequestsSigned="true"' in body
    assert 'WantAssertionsSigned="true"' in body
    # Both keys sign; the newest is also the one an IdP encrypts assertions for.
    assert body.count('<md:KeyDescriptor use="signing">') == 2
    assert body.count('<md:KeyDescriptor use="encryption">') == 1
    assert body.count("<ds:X509Certificate>") == 3
    keys_cache_clear()
    settings_cache_clear()


def test_fetch_connects_to_the_address_it_checked(settings, server, monkeypatch):
    """DNS rebinding: the name resolves to a public address for the check and to an
    internal one a moment later; the fetch must use the address it checked."""
    import socket as socket_module

    from axero_idp import safe_fetch as metadata_module

    settings.SAML_METADATA_ALLOW_PRIVATE_NETWORKS = False
    answers = iter(["93.184.215.14", "127.0.0.1"])
    connected = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (next(answers), port))]

    def fake_create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise OSError("unreachable in the test")

    monkeypatch.setattr(metadata_module.socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(metadata_module.socket, "create_connection", fake_create_connection)

    with pytest.raises(ValidationFailed) as caught:
        idp_metadata_fetch("https://idp.example.com/md")

    assert connected == [("93.184.215.14", 443)]
    assert caught.value.detail == "metadata fetch failed: OSError"
