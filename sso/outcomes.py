"""Recording a refused SAML message: one log line and one row carrying the same support
reference the person sees, never the message itself. A refused login is a login flow
(sso.flows, with what was validated of it); a refused logout message an audit event."""

from __future__ import annotations

import logging
import uuid
from typing import Final

from axero_idp.request_id import current_request_id
from sso.flows import login_flow_record
from sso.inbound import ValidLogin
from sso.models import LoginFlowOutcome
from sso.refusals import SamlRefused
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

MAX_MESSAGE: int = 500
LOGIN_REFUSED: Final = "saml.login_refused"


def refusal_record(
    *,
    slug: str,
    refused: SamlRefused,
    action: str = LOGIN_REFUSED,
    audit: bool = True,
    valid: ValidLogin | None = None,
    dry_run: bool = False,
) -> str:
    """Log a refusal and (unless `audit` is off) keep it: in the audit trail (every
    refusal's full reason is there, SAML_SECURITY.md) and, for a login, as a login flow
    with what was received. valid: what of the login was validated, if anything;
    dry_run: an admin's test login. Returns the support reference."""
    reference = current_request_id() or uuid.uuid4().hex
    _refusal_log(slug=slug, refused=refused, action=action, audit=audit, reference=reference)
    if not audit:
        return reference
    audit_record(
        actor=Actor.idp(slug[:50]),
        action=action,
        target_type="identityprovider",
        target_id=slug[:64],
        detail={
            "reason": refused.reason,
            "message": refused.message[:MAX_MESSAGE],
            "reference": reference,
            **({"dry_run": True} if dry_run else {}),
        },
    )
    if action == LOGIN_REFUSED:
        login_flow_record(
            slug=slug,
            outcome=LoginFlowOutcome.REFUSED,
            reference=reference,
            valid=valid,
            dry_run=dry_run,
            refused=refused,
        )
    return reference


def _refusal_log(
    *, slug: str, refused: SamlRefused, action: str, audit: bool, reference: str
) -> None:
    logger.warning(
        "SAML message refused: %s",
        refused.reason,
        extra={
            "idp": slug[:50],
            "reason": refused.reason,
            "reason_message": refused.message[:MAX_MESSAGE],
            "reference": reference,
            "action": action,
            "audited": audit,
        },
    )
