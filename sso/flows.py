"""Login flows: every SAML login attempt (signed in, test login, refused) kept for
LOGIN_FLOWS_RETENTION_DAYS, for the admin's "what happened when Ann tried to sign in".

A row holds the time, the connection, the NameID, the outcome and reason, the support
reference and the attributes received, with the values of secret-looking attributes
redacted and everything capped. Never the assertion or its XML. A successful login
pays one INSERT for it, in the login's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from axero_idp.db import insert_behind
from sso.inbound import ValidLogin
from sso.models import LoginFlow, LoginFlowOutcome
from sso.refusals import SamlRefused
from users.models import User

REDACTED: Final = "[redacted]"
# Attribute names whose values are never kept: IdPs can be configured to send anything,
# and an admin mapping a password hash or an MFA seed by mistake must not find it here.
SECRET_NAME: Final = re.compile(
    r"pass(word|wd|code|phrase)?|pwd|secret|token|credential|private|otp|totp|seed|"
    r"\bpin\b|ssn|social.?security|national.?id|salt|hash",
    re.IGNORECASE,
)
MAX_ATTRIBUTES: Final = 100
MAX_VALUES: Final = 50
MAX_VALUE_LENGTH: Final = 500
MAX_MESSAGE: Final = 500


def attributes_redacted(attributes: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    """The received attributes as kept: names and values as strings, capped, with the
    values of secret-looking names replaced by REDACTED."""
    kept: dict[str, list[str]] = {}
    for name in list(attributes)[:MAX_ATTRIBUTES]:
        label = str(name)[:MAX_VALUE_LENGTH]
        values = [str(value)[:MAX_VALUE_LENGTH] for value in attributes[name]][:MAX_VALUES]
        kept[label] = [REDACTED] * len(values) if SECRET_NAME.search(label) else values
    return kept


def _email_in(attributes: Mapping[str, list[str]]) -> str:
    # For the search by person: the first value that is an email address, from an
    # attribute whose name says mail (every vendor's email claim does).
    for name, values in attributes.items():
        if "mail" not in name.lower():
            continue
        for value in values:
            try:
                validate_email(value)
            except ValidationError:
                continue
            return value[:254]
    return ""


def login_flow_record(
    *,
    slug: str,
    outcome: LoginFlowOutcome,
    reference: str,
    valid: ValidLogin | None = None,
    user: User | None = None,
    dry_run: bool = False,
    refused: SamlRefused | None = None,
    preview_refusal: tuple[str, str] = ("", ""),
) -> None:
    """Keep one login attempt (inside the caller's transaction, if any): one INSERT,
    written behind (axero_idp.db): an append-only row nobody reads back in the request,
    so it rides with the transaction's COMMIT instead of taking a round trip of its own.
    preview_refusal: a test login's (reason, message) when it would have been refused."""
    attributes = attributes_redacted(valid.attributes) if valid is not None else {}
    reason, message = (refused.reason.value, refused.detail) if refused else preview_refusal
    insert_behind(
        LoginFlow(
            idp_slug=slug[:50],
            name_id=valid.name_id if valid is not None else "",
            email=user.email if user is not None and user.email else _email_in(attributes),
            user=user,
            outcome=outcome,
            dry_run=dry_run,
            idp_initiated=(valid.in_response_to is None) if valid is not None else None,
            reason=reason,
            message=message[:MAX_MESSAGE],
            reference=reference[:64],
            attributes=attributes,
        )
    )


def login_flows_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the login flows older than LOGIN_FLOWS_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.LOGIN_FLOWS_RETENTION_DAYS)
    deleted, _ = LoginFlow.objects.filter(created_at__lt=cutoff).delete()
    return deleted
