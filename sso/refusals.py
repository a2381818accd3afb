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
LOGOUT_REPLAY: Final = "logout_replay"  # an IdP's LogoutRequest ID seen before
IN_RESPONSE_TO_MISSING: Final = "in_response_to_missing"
IN_RESPONSE_TO_UNKNOWN: Final = "in_response_to_unknown"
IDP_INITIATED_NOT_ALLOWED: Final = "idp_initiated_not_allowed"
ISSUER: Final = "issuer"
STATUS: Final = "status"  # the IdP itself reported a failure
NO_NAMEID: Final = "no_nameid"
USER_INACTIVE: Final = "user_inactive"
JIT_DISABLED: Final = "jit_disabled"
# link_by_email found only accounts no login may claim by email (admins, local
# accounts, another IdP's users).
EMAIL_LINK_REFUSED: Final = "email_link_refused"
# The NameID's username belongs to an account this IdP may not claim (not provisioned
# through its connection, no email link).
ACCOUNT_NOT_LINKED: Final = "account_not_linked"
UNKNOWN_IDP: Final = "unknown_idp"
# The connection exists (its SP metadata is served) but its IdP's metadata is not imported.
METADATA_MISSING: Final = "metadata_missing"
VALIDATION: Final = "validation"  # anything else python3-saml refused; message preserved
NO_EXPIRY: Final = "no_expiry"  # an assertion without any NotOnOrAfter
SUBJECT_CONFIRMATION: Final = "subject_confirmation"  # no bearer method, or an empty one
DECRYPTION: Final = "decryption"  # an EncryptedAssertion our key cannot decrypt
# want_assertions_encrypted is on and the assertion came in plaintext.
UNENCRYPTED_ASSERTION: Final = "unencrypted_assertion"
TOO_MANY_PENDING: Final = "too_many_pending"  # the hop's parked responses are capped
RATE_LIMITED: Final = "rate_limited"  # SAML_ACS_RATE_LIMIT_PER_MINUTE for this IdP

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
        LOGOUT_REPLAY,
        IN_RESPONSE_TO_MISSING,
        IN_RESPONSE_TO_UNKNOWN,
        IDP_INITIATED_NOT_ALLOWED,
        ISSUER,
        STATUS,
        NO_NAMEID,
        USER_INACTIVE,
        JIT_DISABLED,
        EMAIL_LINK_REFUSED,
        ACCOUNT_NOT_LINKED,
        UNKNOWN_IDP,
        METADATA_MISSING,
        VALIDATION,
        NO_EXPIRY,
        SUBJECT_CONFIRMATION,
        DECRYPTION,
        UNENCRYPTED_ASSERTION,
        TOO_MANY_PENDING,
        RATE_LIMITED,
    }
)

# The HTTP status of each refusal; everything not listed is a 400.
HTTP_STATUS: Final[dict[str, int]] = {
    USER_INACTIVE: 403,
    IDP_INITIATED_NOT_ALLOWED: 403,
    EMAIL_LINK_REFUSED: 403,
    ACCOUNT_NOT_LINKED: 409,
    UNKNOWN_IDP: 404,
    METADATA_MISSING: 404,
    TOO_MANY_PENDING: 429,
    RATE_LIMITED: 429,
}


def http_status(reason: str) -> int:
    return HTTP_STATUS.get(reason, 400)


# What the person in front of the browser reads (short; the full reason goes to the
# log and the audit trail with the same reference).
USER_MESSAGES: Final[dict[str, str]] = {
    MALFORMED: "The sign-in message from your identity provider could not be read.",
    SIGNATURE: "The sign-in message was not signed by your identity provider.",
    UNSIGNED_ASSERTION: "The sign-in message was not signed the way this site requires.",
    DEPRECATED_ALGORITHM: "The sign-in message uses an outdated signature algorithm (SHA-1).",
    AUDIENCE: "The sign-in message was meant for a different application.",
    DESTINATION: "The sign-in message was addressed to a different URL.",
    RECIPIENT: "The sign-in message was addressed to a different URL.",
    EXPIRED: "The sign-in message has expired. Please sign in again.",
    NOT_YET_VALID: "The sign-in message is not valid yet. Check the clocks and sign in again.",
    REPLAY: "This sign-in message was already used. Please sign in again.",
    LOGOUT_REPLAY: "This sign-out message was already used.",
    IN_RESPONSE_TO_MISSING: "The sign-in answer does not match the sign-in you started.",
    IN_RESPONSE_TO_UNKNOWN: "The sign-in answer does not match a sign-in this browser started. "
    "Please sign in again.",
    IDP_INITIATED_NOT_ALLOWED: "Sign-in must start at this site, not at the identity provider.",
    ISSUER: "The sign-in message came from an identity provider this site does not trust.",
    STATUS: "Your identity provider reported that the sign-in failed.",
    NO_NAMEID: "The sign-in message does not say who you are.",
    USER_INACTIVE: "Your account is deactivated. Contact your administrator.",
    JIT_DISABLED: "You do not have an account here yet. Contact your administrator.",
    EMAIL_LINK_REFUSED: "Your email address belongs to an account that cannot be signed in to "
    "this way. Contact your administrator.",
    ACCOUNT_NOT_LINKED: "An account with your name exists here but is not connected to this "
    "sign-in. Contact your administrator.",
    UNKNOWN_IDP: "This sign-in link is not configured.",
    METADATA_MISSING: "Sign-in through this connection is not set up yet. "
    "Contact your administrator.",
    VALIDATION: "The sign-in message was refused.",
    NO_EXPIRY: "The sign-in message does not say when it expires, so it cannot be accepted.",
    SUBJECT_CONFIRMATION: "The sign-in message is not meant for signing in through a browser.",
    DECRYPTION: "The sign-in message was encrypted for a key this site does not have.",
    UNENCRYPTED_ASSERTION: "The sign-in message must be encrypted for this site, and it was not.",
    TOO_MANY_PENDING: "Too many sign-ins from your network are waiting to complete. "
    "Please wait a minute and sign in again.",
    RATE_LIMITED: "Too many sign-ins are arriving right now. Please wait a minute and sign in "
    "again.",
}


class SamlRefused(Exception):
    """A refused SAML message: `reason` is one of the codes above, `message` the full
    technical reason (logged and audited, never shown in full to the user)."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in ALL_REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    @property
    def http_status(self) -> int:
        return http_status(self.reason)

    @property
    def user_message(self) -> str:
        return USER_MESSAGES[self.reason]

    @property
    def admin_hint(self) -> str:
        return ADMIN_HINTS.get(self.reason, "")


def _validation_codes() -> dict[int, str]:
    from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as E

    return {
        E.UNSUPPORTED_SAML_VERSION: MALFORMED,
        E.MISSING_ID: MALFORMED,
        E.MISSING_STATUS: MALFORMED,
        E.MISSING_STATUS_CODE: MALFORMED,
        E.INVALID_XML_FORMAT: MALFORMED,
        E.STATUS_CODE_IS_NOT_SUCCESS: STATUS,
        # More than one assertion is the shape of a signature-wrapping attack.
        E.WRONG_NUMBER_OF_ASSERTIONS: SIGNATURE,
        E.WRONG_SIGNED_ELEMENT: SIGNATURE,
        E.ID_NOT_FOUND_IN_SIGNED_ELEMENT: SIGNATURE,
        E.DUPLICATED_ID_IN_SIGNED_ELEMENTS: SIGNATURE,
        E.INVALID_SIGNED_ELEMENT: SIGNATURE,
        E.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: SIGNATURE,
        E.UNEXPECTED_SIGNED_ELEMENTS: SIGNATURE,
        E.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: SIGNATURE,
        E.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: SIGNATURE,
        E.WRONG_NUMBER_OF_SIGNATURES: SIGNATURE,
        E.NO_SIGNATURE_FOUND: SIGNATURE,
        E.INVALID_SIGNATURE: SIGNATURE,
        E.NO_SIGNED_MESSAGE: SIGNATURE,
        E.NO_SIGNED_ASSERTION: UNSIGNED_ASSERTION,
        E.NO_ENCRYPTED_ASSERTION: UNENCRYPTED_ASSERTION,
        E.DEPRECATED_SIGNATURE_METHOD: DEPRECATED_ALGORITHM,
        E.DEPRECATED_DIGEST_METHOD: DEPRECATED_ALGORITHM,
        E.WRONG_INRESPONSETO: IN_RESPONSE_TO_UNKNOWN,
        E.ASSERTION_TOO_EARLY: NOT_YET_VALID,
        E.ASSERTION_EXPIRED: EXPIRED,
        E.SESSION_EXPIRED: EXPIRED,
        E.RESPONSE_EXPIRED: EXPIRED,
        E.WRONG_DESTINATION: DESTINATION,
        E.EMPTY_DESTINATION: DESTINATION,
        E.WRONG_AUDIENCE: AUDIENCE,
        E.SP_NAME_QUALIFIER_NAME_MISMATCH: AUDIENCE,
        E.ISSUER_MULTIPLE_IN_RESPONSE: ISSUER,
        E.ISSUER_NOT_FOUND_IN_ASSERTION: ISSUER,
        E.WRONG_ISSUER: ISSUER,
        E.NO_NAMEID: NO_NAMEID,
        E.EMPTY_NAMEID: NO_NAMEID,
    }


_CODES: dict[int, str] | None = None


def reason_for_validation_error(code: int) -> str:
    """The refusal reason for a python3-saml OneLogin_Saml2_ValidationError code."""
    global _CODES
    if _CODES is None:
        _CODES = _validation_codes()
    return _CODES.get(code, VALIDATION)


# What an admin changes to fix a refusal (the test login's answer; the README's
# "Troubleshooting refused logins" table says the same at more length).
ADMIN_HINTS: Final[dict[str, str]] = {
    SIGNATURE: "Re-import the IdP metadata (certificate rollover?).",
    UNSIGNED_ASSERTION: "Set the IdP to sign the assertion, or turn off want_assertions_signed.",
    DEPRECATED_ALGORITHM: "Switch the IdP's signing and digest algorithm to SHA-256.",
    AUDIENCE: "The IdP's Audience / Entity ID must be this connection's entity ID.",
    DESTINATION: "The IdP's ACS URL must be exactly this connection's ACS URL (check SITE_URL).",
    RECIPIENT: "The IdP's Recipient must be exactly this connection's ACS URL.",
    EXPIRED: "Check the clocks; raise clock_skew_seconds (at most 300).",
    NOT_YET_VALID: "Check the clocks.",
    ISSUER: "Re-import the IdP metadata: the issuer is not its entity ID.",
    STATUS: "See the identity provider's own logs.",
    NO_NAMEID: "Configure an email, persistent or unspecified NameID at the IdP.",
    USER_INACTIVE: "Reactivate the user in admin if intended.",
    JIT_DISABLED: "Provision the person by SCIM with this connection's token, or turn on "
    "jit_create.",
    ACCOUNT_NOT_LINKED: "Push the person with this connection's SCIM token, or link the "
    "account in admin.",
    EMAIL_LINK_REFUSED: "Give the person their own provisioned account.",
    METADATA_MISSING: "Import the IdP metadata on the connection's page.",
    IN_RESPONSE_TO_UNKNOWN: "Start the test login again from the same browser.",
}
