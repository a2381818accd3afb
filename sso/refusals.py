"""Why a SAML message was refused: one enum of stable reason codes, each carrying its
HTTP status, what the person reads, and what an admin changes to fix it.

The codes (the members' values) are a contract: the audit trail (`saml.login_refused`
detail.reason), the login flows, the log line, the refusal page and the README
troubleshooting table all use them (tests/sso/test_unit_refusals.py checks the table
against this enum), and the end-to-end tests assert them. Never rename one; add new
ones instead.
"""

from __future__ import annotations

from typing import Final

from axero_idp.errors import ErrorReason, ReasonedError


class RefusalReason(ErrorReason):
    """(code, HTTP status, what the person reads, what an admin changes)."""

    # garbage base64, not XML, DOCTYPE/entities, oversize, bomb
    MALFORMED = (
        "malformed",
        400,
        "The sign-in message from your identity provider could not be read.",
        "Check the IdP posts to the ACS URL with the HTTP-POST binding.",
    )
    # missing/invalid/stripped/wrapped signature, foreign cert
    SIGNATURE = (
        "signature",
        400,
        "The sign-in message was not signed by your identity provider.",
        "Re-import the IdP metadata (certificate rollover?).",
    )
    UNSIGNED_ASSERTION = (
        "unsigned_assertion",
        400,
        "The sign-in message was not signed the way this site requires.",
        "Set the IdP to sign the assertion, or turn off want_assertions_signed.",
    )
    # SHA-1 signature or digest
    DEPRECATED_ALGORITHM = (
        "deprecated_algorithm",
        400,
        "The sign-in message uses an outdated signature algorithm (SHA-1).",
        "Switch the IdP's signing and digest algorithm to SHA-256.",
    )
    AUDIENCE = (
        "audience",
        400,
        "The sign-in message was meant for a different application.",
        "The IdP's Audience / Entity ID must be this connection's entity ID.",
    )
    DESTINATION = (
        "destination",
        400,
        "The sign-in message was addressed to a different URL.",
        "The IdP's ACS URL must be exactly this connection's ACS URL (check SITE_URL).",
    )
    RECIPIENT = (
        "recipient",
        400,
        "The sign-in message was addressed to a different URL.",
        "The IdP's Recipient must be exactly this connection's ACS URL.",
    )
    EXPIRED = (
        "expired",
        400,
        "The sign-in message has expired. Please sign in again.",
        "Check the clocks; raise clock_skew_seconds (at most 300).",
    )
    NOT_YET_VALID = (
        "not_yet_valid",
        400,
        "The sign-in message is not valid yet. Check the clocks and sign in again.",
        "Check the clocks.",
    )
    REPLAY = (
        "replay",
        400,
        "This sign-in message was already used. Please sign in again.",
        "None: the person signs in again.",
    )
    # an IdP's LogoutRequest ID seen before
    LOGOUT_REPLAY = (
        "logout_replay",
        400,
        "This sign-out message was already used.",
        "None; if the IdP really sent it twice, check its logs.",
    )
    IN_RESPONSE_TO_MISSING = (
        "in_response_to_missing",
        400,
        "The sign-in answer does not match the sign-in you started.",
        "The IdP answered IdP-initiated: start at the connection's login URL.",
    )
    IN_RESPONSE_TO_UNKNOWN = (
        "in_response_to_unknown",
        400,
        "The sign-in answer does not match a sign-in this browser started. Please sign in again.",
        "Start the test login again from the same browser.",
    )
    IDP_INITIATED_NOT_ALLOWED = (
        "idp_initiated_not_allowed",
        403,
        "Sign-in must start at this site, not at the identity provider.",
        "Start at the login URL, or allow IdP-initiated login for this connection.",
    )
    ISSUER = (
        "issuer",
        400,
        "The sign-in message came from an identity provider this site does not trust.",
        "Re-import the IdP metadata: the issuer is not its entity ID.",
    )
    # the IdP itself reported a failure
    STATUS = (
        "status",
        400,
        "Your identity provider reported that the sign-in failed.",
        "See the identity provider's own logs.",
    )
    NO_NAMEID = (
        "no_nameid",
        400,
        "The sign-in message does not say who you are.",
        "Configure an email, persistent or unspecified NameID at the IdP.",
    )
    USER_INACTIVE = (
        "user_inactive",
        403,
        "Your account is deactivated. Contact your administrator.",
        "Reactivate the user in admin if intended.",
    )
    JIT_DISABLED = (
        "jit_disabled",
        400,
        "You do not have an account here yet. Contact your administrator.",
        "Provision the person by SCIM with this connection's token, or turn on jit_create.",
    )
    # link_by_email found only accounts no login may claim by email (admins, local
    # accounts, another IdP's users).
    EMAIL_LINK_REFUSED = (
        "email_link_refused",
        403,
        "Your email address belongs to an account that cannot be signed in to this way. Contact your administrator.",
        "Give the person their own provisioned account.",
    )
    # The NameID's username belongs to an account this IdP may not claim (not provisioned
    # through its connection, no email link).
    ACCOUNT_NOT_LINKED = (
        "account_not_linked",
        409,
        "An account with your name exists here but is not connected to this sign-in. Contact your administrator.",
        "Push the person with this connection's SCIM token, or link the account in admin.",
    )
    UNKNOWN_IDP = (
        "unknown_idp",
        404,
        "This sign-in link is not configured.",
        "Check the slug in the URL and that the identity provider is active.",
    )
    # The connection exists (its SP metadata is served) but its IdP's metadata is not imported.
    METADATA_MISSING = (
        "metadata_missing",
        404,
        "Sign-in through this connection is not set up yet. Contact your administrator.",
        "Import the IdP metadata on the connection's page.",
    )
    # anything else python3-saml refused; message preserved
    VALIDATION = (
        "validation",
        400,
        "The sign-in message was refused.",
        "Read the full message in the audit trail.",
    )
    # an assertion without any NotOnOrAfter
    NO_EXPIRY = (
        "no_expiry",
        400,
        "The sign-in message does not say when it expires, so it cannot be accepted.",
        "Configure the IdP to limit the assertion's validity (NotOnOrAfter).",
    )
    # no bearer method, or an empty one
    SUBJECT_CONFIRMATION = (
        "subject_confirmation",
        400,
        "The sign-in message is not meant for signing in through a browser.",
        "Configure the IdP for the SAML 2.0 Web Browser SSO profile (bearer).",
    )
    # an EncryptedAssertion our key cannot decrypt
    DECRYPTION = (
        "decryption",
        400,
        "The sign-in message was encrypted for a key this site does not have.",
        "Let the IdP fetch our metadata again (SP key rollover?).",
    )
    # want_assertions_encrypted is on and the assertion came in plaintext.
    UNENCRYPTED_ASSERTION = (
        "unencrypted_assertion",
        400,
        "The sign-in message must be encrypted for this site, and it was not.",
        "Turn on assertion encryption at the IdP with our metadata's certificate, or untick want_assertions_encrypted.",
    )
    # the hop's parked responses are capped
    TOO_MANY_PENDING = (
        "too_many_pending",
        429,
        "Too many sign-ins from your network are waiting to complete. Please wait a minute and sign in again.",
        "Wait two minutes; on production use an https SITE_URL.",
    )
    # SAML_ACS_RATE_LIMIT_PER_MINUTE for this IdP
    RATE_LIMITED = (
        "rate_limited",
        429,
        "Too many sign-ins are arriving right now. Please wait a minute and sign in again.",
        "Wait a minute; raise SAML_ACS_RATE_LIMIT_PER_MINUTE if real logins hit it.",
    )


class SamlRefused(ReasonedError):
    """A refused SAML message: `reason` a RefusalReason, `message` (= detail) the full
    technical reason (logged and audited, never shown in full to the person)."""

    code = "saml_refused"
    reason: RefusalReason

    def __init__(self, reason: RefusalReason | str, message: str) -> None:
        try:
            member = RefusalReason.of(reason)
        except ValueError:
            raise ValueError(f"unknown refusal reason {reason!r}") from None
        super().__init__(member, message)

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"

    @property
    def message(self) -> str:
        return self.detail


# python3-saml's OneLogin_Saml2_ValidationError codes (by name) for each reason;
# any other code is VALIDATION.
_VALIDATION_CODES: Final[dict[RefusalReason, tuple[str, ...]]] = {
    RefusalReason.MALFORMED: (
        "UNSUPPORTED_SAML_VERSION",
        "MISSING_ID",
        "MISSING_STATUS",
        "MISSING_STATUS_CODE",
        "INVALID_XML_FORMAT",
    ),
    RefusalReason.STATUS: ("STATUS_CODE_IS_NOT_SUCCESS",),
    RefusalReason.SIGNATURE: (
        "WRONG_NUMBER_OF_ASSERTIONS",
        "WRONG_SIGNED_ELEMENT",
        "ID_NOT_FOUND_IN_SIGNED_ELEMENT",
        "DUPLICATED_ID_IN_SIGNED_ELEMENTS",
        "INVALID_SIGNED_ELEMENT",
        "DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS",
        "UNEXPECTED_SIGNED_ELEMENTS",
        "WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE",
        "WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION",
        "WRONG_NUMBER_OF_SIGNATURES",
        "NO_SIGNATURE_FOUND",
        "INVALID_SIGNATURE",
        "NO_SIGNED_MESSAGE",
    ),
    RefusalReason.UNSIGNED_ASSERTION: ("NO_SIGNED_ASSERTION",),
    RefusalReason.UNENCRYPTED_ASSERTION: ("NO_ENCRYPTED_ASSERTION",),
    RefusalReason.DEPRECATED_ALGORITHM: (
        "DEPRECATED_SIGNATURE_METHOD",
        "DEPRECATED_DIGEST_METHOD",
    ),
    RefusalReason.IN_RESPONSE_TO_UNKNOWN: ("WRONG_INRESPONSETO",),
    RefusalReason.NOT_YET_VALID: ("ASSERTION_TOO_EARLY",),
    RefusalReason.EXPIRED: (
        "ASSERTION_EXPIRED",
        "SESSION_EXPIRED",
        "RESPONSE_EXPIRED",
    ),
    RefusalReason.DESTINATION: (
        "WRONG_DESTINATION",
        "EMPTY_DESTINATION",
    ),
    RefusalReason.AUDIENCE: (
        "WRONG_AUDIENCE",
        "SP_NAME_QUALIFIER_NAME_MISMATCH",
    ),
    RefusalReason.ISSUER: (
        "ISSUER_MULTIPLE_IN_RESPONSE",
        "ISSUER_NOT_FOUND_IN_ASSERTION",
        "WRONG_ISSUER",
    ),
    RefusalReason.NO_NAMEID: (
        "NO_NAMEID",
        "EMPTY_NAMEID",
    ),
}
# More than one assertion (WRONG_NUMBER_OF_ASSERTIONS) is the shape of a
# signature-wrapping attack: a SIGNATURE refusal.

_BY_CODE: dict[int, RefusalReason] | None = None


def reason_for_validation_error(code: int) -> RefusalReason:
    """The refusal reason for a python3-saml OneLogin_Saml2_ValidationError code."""
    global _BY_CODE
    if _BY_CODE is None:
        from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as E

        _BY_CODE = {
            getattr(E, name): reason
            for reason, names in _VALIDATION_CODES.items()
            for name in names
        }
    return _BY_CODE.get(code, RefusalReason.VALIDATION)
