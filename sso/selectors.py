"""Reads of the SSO configuration."""

from __future__ import annotations

import functools
import uuid

from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Now

from axero_idp.rawsql import model_columns, table
from sso.models import IdentityProvider, SamlSession


@functools.cache
def _active_idp_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {model_columns(IdentityProvider)} FROM {table(IdentityProvider)} "  # noqa: S608
        f"WHERE {quote('slug')} = %s AND {quote('is_active')}"
    )


def idp_active(slug: str) -> IdentityProvider | None:
    """The active identity provider of a URL's slug. Every SSO request starts here:
    a raw query by the unique slug (fields converted as the ORM converts them), without
    the ORM's per-call query compilation."""
    found = list(IdentityProvider.objects.raw(_active_idp_sql(), [slug]))
    return found[0] if found else None


def idps_active() -> list[IdentityProvider]:
    """The identity providers people may sign in with, by name."""
    return sorted(IdentityProvider.objects.filter(is_active=True), key=lambda i: str(i).lower())


def idp_for_email(email: str) -> IdentityProvider | None:
    """The active identity provider that lists the email's domain, if any."""
    domain = email.rpartition("@")[2].strip().lower()
    # A handful of IdPs at most: read in Python, the same on every database engine.
    return next((idp for idp in idps_active() if domain and domain in idp.email_domains), None)


def idps_for_sign_in() -> list[IdentityProvider]:
    """The active identity providers, by name, that a sign-in page offers."""
    return list(IdentityProvider.objects.filter(is_active=True).order_by("name", "slug"))


def saml_session_of(session_key: str | None) -> SamlSession | None:
    """The SAML login that opened this Django session (with its IdP), or None: a local
    sign-in, or no session."""
    if not session_key:
        return None
    return SamlSession.objects.select_related("idp").filter(session_key=session_key).first()


def saml_sessions_of_user(user_id: uuid.UUID) -> list[SamlSession]:
    """The user's SAML sessions whose Django session has not expired, newest first (the
    user's index, one query); each carries its IdP and `expires` (the session's end)."""
    live = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=Now())
    return list(
        SamlSession.objects.filter(user_id=user_id)
        .annotate(expires=Subquery(live.values("expire_date")[:1]))
        .filter(expires__isnull=False)
        .select_related("idp")
        .order_by("-created")
    )
