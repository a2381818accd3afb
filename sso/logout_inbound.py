"""Reading an IdP's logout message: what makes it the IdP's, this once, and recent.

python3-saml leaves three holes in single logout (SAML_SECURITY.md):
- HTTP-Redirect: it verifies the query signature over the raw parts that literally
  start with `SAMLRequest=`, while a QueryDict decodes `SAML%52equest` to the same name
  and keeps the last value. We parse the raw query ourselves, refuse every repeated,
  unknown or percent-encoded name, verify over exactly those raw parts and decode the
  message from the very part that was verified.
- HTTP-POST: `validate_sign` verifies whatever the one `ds:Reference` points at, so the
  signature of someone's own signed assertion, moved next to a self-written message
  that carries the assertion in `samlp:Extensions`, verifies. The signature must sign
  the message's root, by an ID nothing else in the document has (the rule python3-saml
  applies to responses in `process_signed_elements`).
- Replay: a signed LogoutRequest is accepted again and at any age. Its ID is used once
  (the replay cache every process shares) and its IssueInstant must be recent.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_plus

from django.db import IntegrityError, transaction
from django.utils import timezone
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.inbound import MAX_REDIRECT_QUERY_BYTES, b64_decode_strict
from sso.models import IdentityProvider, SeenAssertion
from sso.refusals import RefusalReason, SamlRefused

MESSAGE_NAMES: Final = ("SAMLRequest", "SAMLResponse")
QUERY_NAMES: Final = frozenset({*MESSAGE_NAMES, "RelayState", "SigAlg", "Signature"})
# The message, RelayState and a signature fit in this; anything longer is not an IdP's.
MAX_QUERY_BYTES: Final = MAX_REDIRECT_QUERY_BYTES + 8 * 1024
SIGNATURE_ALGORITHMS: Final = frozenset({C.RSA_SHA256, C.RSA_SHA384, C.RSA_SHA512})
# How old an IdP's LogoutRequest may be (plus the IdP's clock skew): it is sent the
# moment the person logs out at the IdP and delivered by their browser at once.
LOGOUT_REQUEST_MAX_AGE: Final = dt.timedelta(minutes=5)
MAX_ID_LENGTH: Final = 255  # SeenAssertion.assertion_id


@dataclass(frozen=True)
class RedirectQuery:
    """A Redirect-binding query as sent: each name once, each value still encoded."""

    saml_type: str  # SAMLRequest or SAMLResponse
    raw: dict[str, str]

    @property
    def message(self) -> str:
        return unquote_plus(self.raw[self.saml_type])

    @property
    def relay_state(self) -> str:
        return unquote_plus(self.raw.get("RelayState", ""))

    @property
    def signed_part(self) -> str:
        """The string the IdP signed (SAML bindings §3.4.4.1), in the binding's order."""
        names = (self.saml_type, "RelayState", "SigAlg")
        return "&".join(f"{name}={self.raw[name]}" for name in names if name in self.raw)


def redirect_query_parse(query_string: str) -> RedirectQuery:
    """Split the raw query; refuse anything but one of each expected name, as sent."""
    if len(query_string) > MAX_QUERY_BYTES:
        raise SamlRefused(RefusalReason.MALFORMED, f"query string longer than {MAX_QUERY_BYTES}")
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        name, has_value, value = part.partition("=")
        if not has_value or name not in QUERY_NAMES:
            # Also every percent-encoded spelling of an expected name (SAML%52equest):
            # a decoder would read it as that name, the signed string never contains it.
            raise SamlRefused(
                RefusalReason.MALFORMED, f"unexpected query parameter {name[:40]!r} (as sent)"
            )
        if name in raw:
            raise SamlRefused(RefusalReason.MALFORMED, f"the query repeats {name}")
        raw[name] = value
    present = [name for name in MESSAGE_NAMES if name in raw]
    if len(present) != 1:
        raise SamlRefused(
            RefusalReason.MALFORMED, "the query must carry exactly one SAMLRequest or SAMLResponse"
        )
    return RedirectQuery(saml_type=present[0], raw=raw)


def redirect_signature_verify(query: RedirectQuery, *, certificates: list[str]) -> None:
    """The query signature, over exactly the raw parts we will act on."""
    if "Signature" not in query.raw:
        raise SamlRefused(RefusalReason.SIGNATURE, f"the logout {query.saml_type} is not signed")
    algorithm = unquote_plus(query.raw.get("SigAlg", ""))
    if algorithm in C.DEPRECATED_ALGORITHMS:
        raise SamlRefused(RefusalReason.DEPRECATED_ALGORITHM, f"{algorithm} is deprecated")
    if algorithm not in SIGNATURE_ALGORITHMS:
        raise SamlRefused(
            RefusalReason.SIGNATURE, f"signature algorithm {algorithm[:80]!r} refused"
        )
    signature = b64_decode_strict(unquote_plus(query.raw["Signature"]), limit=4096)
    signed = query.signed_part
    if not any(
        OneLogin_Saml2_Utils.validate_binary_sign(signed, signature, cert, algorithm)
        for cert in certificates
    ):
        raise SamlRefused(
            RefusalReason.SIGNATURE, f"the logout {query.saml_type} signature is invalid"
        )


def signed_root_check(root: etree._Element) -> None:
    """The document's only signature is the root's own and signs the root, by an ID
    that no other element shares (so the Reference cannot resolve to anything else)."""
    signatures = root.findall(".//ds:Signature", C.NSMAP)
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        raise SamlRefused(
            RefusalReason.SIGNATURE,
            f"expected one signature, on the message itself; found {len(signatures)}",
        )
    references = signatures[0].findall("ds:SignedInfo/ds:Reference", C.NSMAP)
    root_id = root.get("ID") or ""
    if len(references) != 1 or not root_id or references[0].get("URI") != f"#{root_id}":
        uris = [reference.get("URI") for reference in references]
        raise SamlRefused(
            RefusalReason.SIGNATURE,
            f"the signature references {uris!r}, not the message's ID {root_id!r}",
        )
    # libxml2 resolves a Reference through any ID-typed attribute: ID, xml:id, Id, ...
    same_id = root.xpath("//@*[translate(local-name(), 'DI', 'di') = 'id'][. = $id]", id=root_id)
    if len(same_id) != 1:
        raise SamlRefused(
            RefusalReason.SIGNATURE, f"the ID {root_id!r} is not unique in the message"
        )


def _instant(value: str | None, name: str) -> int:
    if not value:
        raise SamlRefused(RefusalReason.MALFORMED, f"the LogoutRequest has no {name}")
    try:
        return int(OneLogin_Saml2_Utils.parse_SAML_to_time(value))
    except Exception as exc:
        raise SamlRefused(RefusalReason.MALFORMED, f"bad {name} {value[:40]!r}") from exc


def logout_request_window_check(root: etree._Element, *, idp: IdentityProvider) -> dt.datetime:
    """IssueInstant recent (and not ahead), NotOnOrAfter not passed, both with the
    IdP's clock skew; returns until when its ID must be remembered."""
    now = calendar.timegm(timezone.now().utctimetuple())
    skew = idp.clock_skew_seconds
    issued = _instant(root.get("IssueInstant"), "IssueInstant")
    if issued > now + skew:
        raise SamlRefused(RefusalReason.NOT_YET_VALID, f"IssueInstant is {issued - now}s ahead")
    max_age = int(LOGOUT_REQUEST_MAX_AGE.total_seconds())
    if issued < now - max_age - skew:
        raise SamlRefused(
            RefusalReason.EXPIRED, f"IssueInstant is {now - issued}s old (at most {max_age}s)"
        )
    if root.get("NotOnOrAfter") is not None:
        not_on_or_after = _instant(root.get("NotOnOrAfter"), "NotOnOrAfter")
        if not_on_or_after + skew <= now:
            raise SamlRefused(
                RefusalReason.EXPIRED, f"NotOnOrAfter passed {now - not_on_or_after}s ago"
            )
    # From this moment on the age check refuses it anyway.
    return dt.datetime.fromtimestamp(issued + max_age + skew + 1, dt.UTC)


def logout_request_remember(*, idp: IdentityProvider, request_id: str, until: dt.datetime) -> None:
    """One-time use of each LogoutRequest ID, in the replay cache all processes share.

    The cache holds assertion IDs too: an IdP's IDs are unique across all its messages
    (SAML core §1.3.4), so one (idp, ID) row per accepted message is the whole rule."""
    if len(request_id) > MAX_ID_LENGTH:
        raise SamlRefused(RefusalReason.MALFORMED, f"LogoutRequest ID longer than {MAX_ID_LENGTH}")
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(idp=idp, assertion_id=request_id, expires_at=until)
    except IntegrityError as exc:
        raise SamlRefused(
            RefusalReason.LOGOUT_REPLAY, f"logout request {request_id!r} was already used"
        ) from exc
