"""What the admin index shows at a glance: per connection its last sign-in and the last
day's refusals by reason, per SCIM token its last request and error rate, background
work waiting or failed, attributes received but not mapped, certificates about to
expire. Reads only; each block is a few aggregate queries whatever the table sizes."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography import x509
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from media.models import PendingPhotoFetch, ProfileImage
from personas.models import PendingEvaluation
from scim.models import ScimRequestLog, ScimToken
from sso.models import IdentityProvider, LoginFlow, LoginFlowOutcome, SPKey
from users.models import AuditEvent, Connection, UnmappedAttribute

WINDOW: Final = dt.timedelta(hours=24)
CERTIFICATE_WARNING: Final = dt.timedelta(days=30)
LIST_LIMIT: Final = 20


@dataclass
class ConnectionHealth:
    slug: str
    pk: int
    metadata_imported: bool
    last_success: dt.datetime | None = None
    refusals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenHealth:
    name: str
    connection: str
    last_request: dt.datetime | None
    requests: int
    errors: int

    @property
    def error_rate(self) -> str:
        return f"{100 * self.errors / self.requests:.0f}%" if self.requests else "-"


@dataclass(frozen=True)
class ExpiringCertificate:
    owner: str  # "IdP onelogin" | "SP key sp-1"
    subject: str
    not_after: dt.datetime


@dataclass(frozen=True)
class Dashboard:
    connections: list[ConnectionHealth]
    tokens: list[TokenHealth]
    persona_marks_pending: int
    oldest_persona_mark: dt.datetime | None
    photo_fetches_waiting: int
    oldest_photo_fetch: dt.datetime | None
    photo_failures: list[ProfileImage]
    unmapped: list[UnmappedAttribute]
    certificates: list[ExpiringCertificate]


def dashboard_read(now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    pending = PendingEvaluation.objects.aggregate(n=Count("id"), oldest=Min("created_at"))
    photos = PendingPhotoFetch.objects.aggregate(n=Count("id"), oldest=Min("created_at"))
    return Dashboard(
        connections=connections_health(now - WINDOW),
        tokens=tokens_health(now - WINDOW),
        persona_marks_pending=pending["n"],
        oldest_persona_mark=pending["oldest"],
        photo_fetches_waiting=photos["n"],
        oldest_photo_fetch=photos["oldest"],
        photo_failures=list(
            ProfileImage.objects.filter(last_failure_at__gte=now - WINDOW)
            .select_related("user")
            .order_by("-last_failure_at")[:LIST_LIMIT]
        ),
        unmapped=list(
            UnmappedAttribute.objects.select_related("connection").order_by("-last_seen")[
                :LIST_LIMIT
            ]
        ),
        certificates=certificates_expiring(now + CERTIFICATE_WARNING),
    )


def connections_health(since: dt.datetime) -> list[ConnectionHealth]:
    imported = set(IdentityProvider.objects.values_list("slug", flat=True))
    health = {
        c.slug: ConnectionHealth(c.slug, c.pk, c.slug in imported)
        for c in Connection.objects.order_by("slug")
    }
    last = (
        AuditEvent.objects.filter(action="saml.login", actor_name__in=list(health))
        .values("actor_name")
        .annotate(last=Max("created_at"))
    )
    for actor_name, last_at in last.values_list("actor_name", "last"):
        health[actor_name].last_success = last_at
    # Refused logins are login flows (sso.flows), not audit events.
    refused = (
        LoginFlow.objects.filter(
            outcome=LoginFlowOutcome.REFUSED, idp_slug__in=list(health), created_at__gte=since
        )
        .values("idp_slug", "reason")
        .annotate(n=Count("id"))
    )
    for slug, reason, count in refused.values_list("idp_slug", "reason", "n"):
        health[slug].refusals[str(reason)] = count
    return list(health.values())


def tokens_health(since: dt.datetime) -> list[TokenHealth]:
    tokens = list(
        ScimToken.objects.filter(revoked_at__isnull=True)
        .select_related("connection")
        .order_by("name")
    )
    stats: dict[str, dict[str, Any]] = {
        row["token_name"]: dict(row)
        for row in ScimRequestLog.objects.filter(
            token_name__in=[t.name for t in tokens], created_at__gte=since
        )
        .values("token_name")
        .annotate(
            n=Count("id"), errors=Count("id", filter=Q(status__gte=400)), last=Max("created_at")
        )
    }
    return [
        TokenHealth(
            name=t.name,
            connection=t.connection.slug if t.connection else "",
            last_request=stats.get(t.name, {}).get("last") or t.last_used_at,
            requests=stats.get(t.name, {}).get("n", 0),
            errors=stats.get(t.name, {}).get("errors", 0),
        )
        for t in tokens
    ]


def certificates_expiring(before: dt.datetime) -> list[ExpiringCertificate]:
    """IdP signing certificates (base64 DER) and active SP certificates (PEM) whose
    validity ends before `before`."""
    found: list[ExpiringCertificate] = []
    for idp in IdentityProvider.objects.filter(is_active=True):
        for body in idp.signing_certificates:
            cert = _der_certificate(body)
            if cert is not None and cert.not_valid_after_utc < before:
                found.append(_expiring(f"IdP {idp.slug}", cert))
    for key in SPKey.objects.filter(is_active=True):
        cert = x509.load_pem_x509_certificate(key.certificate_pem.encode())
        if cert.not_valid_after_utc < before:
            found.append(_expiring(f"SP key {key.name}", cert))
    return sorted(found, key=lambda c: c.not_after)


def _der_certificate(body: str) -> x509.Certificate | None:
    text = "".join(
        line for line in body.strip().splitlines() if line and not line.startswith("-----")
    )
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text))
    except ValueError:
        return None  # the IdP page shows a certificate that does not parse


def _expiring(owner: str, cert: x509.Certificate) -> ExpiringCertificate:
    return ExpiringCertificate(owner, cert.subject.rfc4514_string(), cert.not_valid_after_utc)
