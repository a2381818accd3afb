"""Why a SAML message was refused: stable reason codes.

The codes are a contract: the audit trail (`saml.login_refused` detail.reason), the log
line, the refusal page and the README troubleshooting table all use them, and the
end-to-end tests assert them. Never rename one; add new ones instead.
"""

from __future__ import annotations

from typing import Final

MALFORMED: Final = "malformed"  # garbage base64, not XML, DOCTYPE/entities, oversize, bomb
SIGNATURE: Final = "signature"  # missing/invalid/stripped/wrapped signature, foreign cert
UNSIGNED_ASSERTION: Final = "unsigned_assertion"
DEPRECATED_ALGORITHM: Final = "deprecated_algorithm"  # SHA-1 signature or digest
AUDIENCE: Final = "audience"
DESTINATION: Final = "destination"
RECIPIENT: Final = "recipient"
EXPIRED: Final = "expired"
NOT_YET_VALID: Final = "not_yet_valid"
REPLAY: Final = "replay"
IN_RESPONSE_TO_MISSING: Final = "in_response_to_missing"
IN_RESPONSE_TO_UNKNOWN: Final = "in_response_to_unknown"
IDP_INITIATED_NOT_ALLOWED: Final = "idp_initiated_not_allowed"
ISSUER: Final = "issuer"
STATUS: Final = "status"  # the IdP itself reported a failure
NO_NAMEID: Final = "no_nameid"
USER_INACTIVE: Final = "user_inactive"
JIT_DISABLED: Final = "jit_disabled"
UNKNOWN_IDP: Final = "unknown_idp"
VALIDATION: Final = "validation"  # anything else python3-saml refused; message preserved

ALL_REASONS: Final = frozenset(
    {
        MALFORMED,
        SIGNATURE,
        UNSIGNED_ASSERTION,
        DEPRECATED_ALGORITHM,
        AUDIENCE,
        DESTINATION,
        RECIPIENT,
        EXPIRED,
        NOT_YET_VALID,
        REPLAY,
        IN_RESPONSE_TO_MISSING,
        IN_RESPONSE_TO_UNKNOWN,
        IDP_INITIATED_NOT_ALLOWED,
        ISSUER,
        STATUS,
        NO_NAMEID,
        USER_INACTIVE,
        JIT_DISABLED,
        UNKNOWN_IDP,
        VALIDATION,
    }
)

# The HTTP status of each refusal; everything not listed is a 400.
HTTP_STATUS: Final[dict[str, int]] = {
    USER_INACTIVE: 403,
    IDP_INITIATED_NOT_ALLOWED: 403,
    UNKNOWN_IDP: 404,
}


def http_status(reason: str) -> int:
    return HTTP_STATUS.get(reason, 400)
