"""Reads of the SSO configuration."""

from __future__ import annotations

import functools

from django.db import connection

from axero_idp.rawsql import model_columns, table
from sso.models import IdentityProvider


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
