"""SAML service provider state: identity providers, our own key pairs, the link of a
NameID to a user, the SAML sessions (for single logout), and the short-lived one-time
records every web process must share (request IDs, seen assertions, pending responses).

Models hold data and constraints only; writes go through sso.services.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone


def default_attribute_map() -> dict[str, list[str]]:
    from sso.mapping import DEFAULT_ATTRIBUTE_MAP

    return {key: list(names) for key, names in DEFAULT_ATTRIBUTE_MAP.items()}


def default_certificates() -> list[str]:
    return []


class SsoBinding(models.TextChoices):
    REDIRECT = "redirect", "HTTP-Redirect"
    POST = "post", "HTTP-POST"


slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,49}$", "Lower-case letters, digits and -.")


class LinkKey(models.TextChoices):
    # Values are SCIM attribute names: users.selectors.LINK_KEYS maps them to fields.
    USER_NAME = "userName", "SCIM userName (default)"
    EMAIL = "email", "email"
    EXTERNAL_ID = "externalId", "SCIM externalId"


class AttributePrecedence(models.TextChoices):
    """When SCIM and SAML both describe a person of this connection, which one wins."""

    SCIM = "scim", "SCIM: logins do not change what SCIM provisions (default)"
    SAML = "saml", "SAML: every login refreshes the profile and roles too"


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def email_domains_clean(value: Any) -> list[str]:
    """A list of lower-cased domain names, or a ValidationError saying what is wrong."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"email_domains": 'a JSON list of domains: ["example.com"]'})
    domains = sorted({v.strip().lower().lstrip("@") for v in value if v.strip()})
    bad = [d for d in domains if not _DOMAIN.match(d)]
    if bad:
        raise ValidationError({"email_domains": f"not a domain name: {', '.join(bad)}"})
    return domains


class IdentityProvider(models.Model):
    """A SAML identity provider this service trusts (several may work side by side)."""

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    entity_id = models.CharField(max_length=1024)
    sso_url = models.URLField(max_length=2000)
    sso_binding = models.CharField(
        max_length=10, choices=SsoBinding.choices, default=SsoBinding.REDIRECT
    )
    slo_url = models.URLField(max_length=2000, blank=True)
    # Base64 DER bodies (no PEM armour) of every certificate the IdP may sign with;
    # more than one during a certificate rollover.
    signing_certificates = models.JSONField(default=default_certificates, blank=True)
    attribute_map = models.JSONField(default=default_attribute_map, blank=True)
    allow_idp_initiated = models.BooleanField(
        default=False, help_text="Accept responses the IdP sends without our request."
    )
    want_assertions_signed = models.BooleanField(
        default=True,
        help_text="Require the assertion itself to be signed (otherwise a signed response "
        "is enough).",
    )
    # Verified email domains ("example.com") whose people sign in here: /sso/ asks for
    # an email when several IdPs are active and sends the person to the right one.
    email_domains = models.JSONField(
        default=list,
        blank=True,
        help_text='Email domains this IdP verifies, as a JSON list: ["example.com"].',
    )
    want_assertions_encrypted = models.BooleanField(
        default=False,
        help_text="Require the assertion to be encrypted for this site's key (published "
        "in the SP metadata); a plaintext one is refused.",
    )
    # python3-saml itself tolerates at most 300 s, so more could never take effect.
    clock_skew_seconds = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(0), MaxValueValidator(300)]
    )
    jit_create = models.BooleanField(default=True, help_text="Create unknown users at login.")
    link_by_email = models.BooleanField(
        default=False,
        help_text="Link a first login to an existing account with the same email. Only for "
        "IdPs that verify email addresses.",
    )
    link_key = models.CharField(
        max_length=20,
        choices=LinkKey.choices,
        default=LinkKey.USER_NAME,
        help_text="On a first login, the connection's SCIM-provisioned user whose value of "
        "this attribute equals the NameID is linked to it.",
    )
    attribute_precedence = models.CharField(
        max_length=10,
        choices=AttributePrecedence.choices,
        default=AttributePrecedence.SCIM,
        help_text="Who decides the profile of a person this connection provisions by SCIM.",
    )
    metadata_url = models.URLField(max_length=2000, blank=True)
    metadata_refreshed_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "identity provider"

    def __str__(self) -> str:
        return self.name or self.slug

    def _email_domains_check(self) -> None:
        # Each domain names one IdP: sign-in routing must never have to guess.
        domains = email_domains_clean(self.email_domains)
        self.email_domains = domains
        others = IdentityProvider.objects.exclude(pk=self.pk).values_list("slug", "email_domains")
        taken = [slug for slug, listed in others if set(domains) & set(listed or [])]
        if taken:
            raise ValidationError(
                {"email_domains": f"already listed by identity provider {', '.join(taken)}"}
            )

    def clean(self) -> None:
        certs = self.signing_certificates
        if (
            not isinstance(certs, list)
            or not certs
            or not all(isinstance(c, str) and c.strip() for c in certs)
        ):
            raise ValidationError(
                {"signing_certificates": "A list of one or more certificates (PEM or base64)."}
            )
        from axero_idp.errors import ValidationFailed
        from sso.mapping import attribute_map_merge

        try:
            attribute_map_merge(
                self.attribute_map if isinstance(self.attribute_map, dict) else None
            )
        except ValidationFailed as exc:
            raise ValidationError({"attribute_map": exc.detail}) from exc
        if not isinstance(self.attribute_map, dict):
            raise ValidationError({"attribute_map": "A JSON object: product field -> names."})
        self._email_domains_check()


class SPKey(models.Model):
    """One key pair of this service provider. Active keys are published in metadata;
    the newest active one signs. Rollover: add a key, let IdPs fetch metadata, retire
    the old one."""

    name = models.CharField(max_length=50, unique=True)
    certificate_pem = models.TextField()
    # Fernet token (key derived from SECRET_KEY) of the PEM private key.
    private_key_encrypted = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SP key"

    def __str__(self) -> str:
        return f"{self.name} ({'active' if self.is_active else 'retired'})"


class SamlIdentity(models.Model):
    """The NameID an IdP uses for a user: the stable key a login is matched by."""

    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="identities")
    name_id = models.CharField(max_length=1024)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saml_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idp", "name_id"], name="sso_identity_unique"),
        ]
        indexes = [models.Index(fields=["user", "idp"], name="sso_identity_user_idx")]
        verbose_name_plural = "SAML identities"

    def __str__(self) -> str:
        return f"{self.idp_id}:{self.name_id}"


class SamlSession(models.Model):
    """A Django session opened by a SAML login: what single logout ends."""

    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="sessions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saml_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    name_id = models.CharField(max_length=1024)
    name_id_format = models.CharField(max_length=255, blank=True)
    session_index = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["idp", "name_id"], name="sso_session_nameid_idx"),
            models.Index(fields=["created"], name="sso_session_created_idx"),
        ]
        verbose_name = "SAML session"

    def __str__(self) -> str:
        return f"{self.user_id} via {self.idp_id}"


class OutstandingRequest(models.Model):
    """An AuthnRequest or LogoutRequest we sent and whose answer we still expect.

    Bound to a browser id (logins: the browser binding cookie, sso.browser_binding;
    logouts: an id kept in the session); consumed once (deleted)."""

    request_id = models.CharField(max_length=100, unique=True)
    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10)  # "authn" | "logout"
    browser = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)
    # Who started a test login (dry run; sso.preview): its answer is shown to that
    # browser, never applied. "admin:<username>" or "setup-link:<id>".
    dry_run_by = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.kind} {self.request_id}"


class SeenAssertion(models.Model):
    """An accepted assertion ID or IdP LogoutRequest ID, kept until it could no longer be
    valid (replay cache; an IdP's IDs are unique across all its messages)."""

    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idp", "assertion_id"], name="sso_seen_unique"),
        ]

    def __str__(self) -> str:
        return self.assertion_id


class PendingResponse(models.Model):
    """A SAMLResponse posted to the ACS, waiting for the same browser's first-party GET
    (the session cookie is SameSite=Lax, so the cross-site POST carries none).

    Anonymous clients create these, so sso.hop caps them per IdP and per client."""

    key = models.CharField(max_length=64, unique=True)
    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    # The address the POST came from (kept as long as the row: 2 minutes).
    client = models.CharField(max_length=64, blank=True, default="")
    saml_response = models.TextField()
    relay_state = models.CharField(max_length=2000, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["idp", "client"], name="sso_pending_client_idx")]

    def __str__(self) -> str:
        return f"pending response for {self.idp_id}"


class LoginFlowOutcome(models.TextChoices):
    SIGNED_IN = "signed_in", "signed in"
    PREVIEWED = "previewed", "test login (not applied)"
    REFUSED = "refused", "refused"


class LoginFlow(models.Model):
    """One SAML login attempt as the admin reads it later: who, through which
    connection, what came of it and why, with the attributes received (secret ones
    redacted; never the assertion). Kept LOGIN_FLOWS_RETENTION_DAYS. A refused login is
    only this row (not also an audit event); refused logout messages stay audit events."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The connection's slug stays readable after its IdP is deleted.
    idp_slug = models.CharField("connection", max_length=50)
    name_id = models.CharField("NameID", max_length=1024, blank=True)
    email = models.CharField(max_length=254, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    outcome = models.CharField(max_length=16, choices=LoginFlowOutcome.choices)
    # A test login from the connection page (or a setup link): shown, never applied.
    dry_run = models.BooleanField(default=False)
    # True: IdP-initiated (no InResponseTo); None: not known (refused before validation).
    idp_initiated = models.BooleanField(null=True, blank=True)
    reason = models.CharField(max_length=40, blank=True)  # sso.refusals.RefusalReason
    message = models.TextField(blank=True)
    reference = models.CharField(max_length=64, blank=True)
    # {attribute name: [values]}, secrets redacted (sso.flows.attributes_redacted).
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["idp_slug", "-created_at"], name="sso_flow_idp_recent_idx"),
            models.Index(fields=["created_at"], name="sso_flow_created_idx"),
            models.Index(fields=["name_id"], name="sso_flow_name_id_idx"),
            models.Index(fields=["user", "-created_at"], name="sso_flow_user_recent_idx"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = "login flow"

    def __str__(self) -> str:
        return f"{self.idp_slug} {self.name_id or '-'} {self.outcome}"
