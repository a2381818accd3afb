"""Recording a refused SAML message: one log line and one audit event carrying the
same support reference the person sees. Never the message itself."""

from __future__ import annotations

import logging
import uuid

from axero_idp.request_id import current_request_id
from sso.refusals import SamlRefused
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

MAX_MESSAGE: int = 500


def refusal_record(
    *, slug: str, refused: SamlRefused, action: str = "saml.login_refused", audit: bool = True
) -> str:
    """Log and (unless `audit` is off) audit a refusal; returns the support reference."""
    reference = current_request_id() or uuid.uuid4().hex
    message = refused.message[:MAX_MESSAGE]
    logger.warning(
        "SAML message refused: %s",
        refused.reason,
        extra={
            "idp": slug[:50],
            "reason": refused.reason,
            "reason_message": message,
            "reference": reference,
            "action": action,
            "audited": audit,
        },
    )
    if not audit:
        return reference
    audit_record(
        actor=Actor.idp(slug[:50]),
        action=action,
        target_type="identityprovider",
        target_id=slug[:64],
        detail={"reason": refused.reason, "message": message, "reference": reference},
    )
    return reference
