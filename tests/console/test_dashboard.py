"""The admin index's dashboard (issue 12, item 5): per connection the last sign-in and
the last day's refusals by reason, per SCIM token its last request and error rate,
waiting and failed background work, attributes received but not mapped, certificates
that expire within 30 days. Fed by real logins, refusals and SCIM requests."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone

from media.models import ProfileImage
from personas.models import PendingEvaluation
from scim.tokens import scim_token_create
from sso.models import IdentityProvider, LoginFlow
from tests.factories import UserFactory, staff_with
from tests.scim.conftest import ScimClient
from tests.sso.conftest import SLUG, Browser
from tests.sso.idp_peer import post_form
from users.models import AuditEvent, Connection, UnmappedAttribute
from users.services import Actor

pytestmark = pytest.mark.django_db


def _dashboard(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    return re.sub(r"\s+", " ", html)


def _cert_der_b64(days: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expiring-idp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_the_dashboard_shows_what_happened(client, peer, admin_user):
    browser = Browser(client, peer)
    browser.login("ada@example.com")
    started = browser.start()
    wrong = peer.response_xml(
        name_id="ada@example.com",
        in_response_to=started.request.id,
        audience="https://elsewhere.example/",
    )
    client.post(f"/sso/{SLUG}/acs/", post_form(wrong, started.request.relay_state))
    refused = LoginFlow.objects.filter(outcome="refused").get()
    LoginFlow.objects.create(
        idp_slug=SLUG,
        outcome="refused",
        reason="signature",
        created_at=timezone.now() - dt.timedelta(days=2),
    )
    _token, raw = scim_token_create(
        name="onelogin-scim", actor=Actor.system("t"), connection_slug=SLUG
    )
    scim = ScimClient(raw)
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users/00000000-0000-0000-0000-000000000000").status_code == 404
    Connection.objects.create(slug="okta", vendor="okta")
    PendingEvaluation.objects.create(persona_id=1)
    ProfileImage.objects.create(
        user=UserFactory(username="grace"),
        last_failure_at=timezone.now(),
        last_failure_reason="answered HTTP 404",
    )
    UnmappedAttribute.objects.create(
        connection=Connection.objects.get(slug=SLUG), protocol="saml", name="User.Phone"
    )
    IdentityProvider.objects.filter(slug=SLUG).update(
        signing_certificates=[*peer_signing(), _cert_der_b64(10)]
    )

    html = _dashboard(admin_user)

    assert refused.reason == "audience"
    connection = Connection.objects.get(slug=SLUG)
    login = AuditEvent.objects.get(action="saml.login")
    assert (
        f'<td><a href="/admin/users/connection/{connection.pk}/change/">onelogin</a></td> '
        f"<td>{timezone.localtime(login.created_at):%Y-%m-%d %H:%M}</td> "
        "<td><code>audience</code> 1</td>"
    ) in html
    assert "okta</a> <em>(metadata missing)</em></td> <td>never</td> <td>none</td>" in html
    assert "<td>onelogin-scim</td><td>onelogin</td>" in html
    assert "<td>2</td><td>1 (50%)</td>" in html
    waiting = PendingEvaluation.objects.count()  # the login's mark and ours
    assert waiting >= 1
    assert f"<td>Persona evaluations waiting</td><td>{waiting} (oldest" in html
    assert ">grace</a>: answered HTTP 404" in html
    assert "<td>saml</td><td><code>User.Phone</code></td>" in html
    assert "<td>IdP onelogin</td><td>CN=expiring-idp</td>" in html


def peer_signing() -> list[str]:
    return list(IdentityProvider.objects.get(slug=SLUG).signing_certificates)


def test_staff_who_may_not_read_the_audit_trail_see_no_dashboard(db):
    helper = staff_with("users.view_user")
    html = _dashboard(helper)
    assert 'id="dashboard"' not in html

    reader = staff_with("users.view_auditevent", username="reader")
    assert 'id="dashboard"' in _dashboard(reader)


def test_the_dashboard_costs_a_fixed_number_of_queries(admin_user, django_assert_max_num_queries):
    for n in range(5):
        Connection.objects.create(slug=f"c{n}")
        scim_token_create(name=f"t{n}", actor=Actor.system("t"), connection_slug=f"c{n}")
    client = Client()
    client.force_login(admin_user)
    with django_assert_max_num_queries(20):
        assert client.get("/admin/").status_code == 200


def _failed_photo(user, *, hours_ago: float, url: str) -> ProfileImage:
    return ProfileImage.objects.create(
        user=user,
        last_failure_at=timezone.now() - dt.timedelta(hours=hours_ago),
        last_failure_reason="timeout",
        last_failure_url=url,
    )


def test_waiting_photo_fetches_are_counted_and_a_retry_puts_failed_ones_back(
    admin_user, django_capture_on_commit_callbacks
):
    from media.models import PendingPhotoFetch

    recent = UserFactory(username="recent")
    _failed_photo(recent, hours_ago=2, url="https://img.example.com/recent.png")
    old = UserFactory(username="old")
    _failed_photo(old, hours_ago=30, url="https://img.example.com/old.png")
    waiting = UserFactory(username="waiting")
    _failed_photo(waiting, hours_ago=1, url="https://img.example.com/waiting.png")
    PendingPhotoFetch.objects.create(user_id=waiting.pk, url="https://img.example.com/new.png")
    assert "Photo fetches waiting</td><td>1 " in _dashboard(admin_user)

    client = Client()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/admin/background/retry/")
    assert response.status_code == 302
    assert response["Location"].endswith("/admin/#dashboard-background")
    assert callbacks, "the drains are queued after commit"

    # The last day's failure is back in the outbox; the older one is the catch-up's,
    # and a person whose fetch is already waiting gets no second row.
    rows = set(PendingPhotoFetch.objects.values_list("user_id", "url"))
    assert rows == {
        (recent.pk, "https://img.example.com/recent.png"),
        (waiting.pk, "https://img.example.com/new.png"),
    }
    event = AuditEvent.objects.get(action="media.photo_fetches_retried")
    assert event.actor_name == admin_user.username
    assert event.detail["marked"] == 1

    client.post("/admin/background/retry/")
    assert PendingPhotoFetch.objects.count() == 2


def test_retrying_background_work_takes_a_post_and_the_permission(db):
    reader = staff_with("users.view_auditevent", username="reader")
    client = Client()
    client.force_login(reader)
    assert "Retry now" not in _dashboard(reader)
    assert client.post("/admin/background/retry/").status_code == 403

    admin = staff_with("users.view_auditevent", "media.change_profileimage", username="ops")
    client.force_login(admin)
    assert "Retry now" in _dashboard(admin)
    assert client.get("/admin/background/retry/").status_code == 405
    assert Client().post("/admin/background/retry/").status_code == 302  # to the login page
    assert not AuditEvent.objects.filter(action="media.photo_fetches_retried").exists()
