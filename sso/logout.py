"""Single logout, both ways.

SP-initiated: the local session ends at once, then a signed LogoutRequest goes to the
IdP, whose LogoutResponse comes back to /sls/. IdP-initiated: a LogoutRequest must be
signed (query signature in the Redirect binding, XML signature in the POST binding),
exactly as sso.logout_inbound reads it, recent and seen for the first time; every
session the IdP opened for that NameID (and SessionIndex, when given) ends, and a
signed LogoutResponse goes back.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import logout as django_logout
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.inbound import (
    MAX_POST_BYTES,
    b64_decode_strict,
    redirect_message_decode,
    same_url,
    signature_shape_check,
    xml_parse,
)
from sso.login import (
    BROWSER_KEY,
    LOGOUT,
    browser_id,
    outstanding_request_consume,
    outstanding_request_remember,
)
from sso.logout_inbound import (
    logout_request_remember,
    logout_request_window_check,
    redirect_query_parse,
    redirect_signature_verify,
    signed_root_check,
)
from sso.models import IdentityProvider, SamlSession
from sso.redirects import safe_next
from sso.refusals import RefusalReason, SamlRefused, reason_for_validation_error
from sso.saml_settings import BuiltSettings, request_data_for, saml_settings
from sso.services import saml_sessions_end
from users.services import Actor, audit_record

logger = logging.getLogger(__name__)

LOGOUT_REQUEST = f"{{{C.NS_SAMLP}}}LogoutRequest"
LOGOUT_RESPONSE = f"{{{C.NS_SAMLP}}}LogoutResponse"


def sp_logout_start(*, request: HttpRequest, idp: IdentityProvider) -> str:
    """End the local session; return where the browser goes next (the IdP, when it
    has a logout endpoint and we know the SAML session, else the landing page)."""
    saml_session = (
        SamlSession.objects.filter(session_key=request.session.session_key, idp=idp).first()
        if request.session.session_key
        else None
    )
    browser = browser_id(request.session, create=True)
    user = request.user if request.user.is_authenticated else None
    django_logout(request)
    if saml_session is not None:
        saml_session.delete()
    if user is not None:
        audit_record(
            actor=Actor.system("self-service"),
            action="saml.logout",
            target=user,
            detail={"idp": idp.slug, "initiated_by": "sp"},
        )
    if saml_session is None or not idp.slo_url:
        return logged_out_path(idp)
    assert browser is not None
    request.session[BROWSER_KEY] = browser  # the same browser id survives the flush
    built = saml_settings(idp)
    logout_request = OneLogin_Saml2_Logout_Request(
        built.login,
        name_id=saml_session.name_id,
        session_index=saml_session.session_index or None,
        name_id_format=saml_session.name_id_format or None,
    )
    outstanding_request_remember(
        idp=idp, request_id=logout_request.id, kind=LOGOUT, browser=browser
    )
    parameters = {"SAMLRequest": logout_request.get_request(), "RelayState": logged_out_path(idp)}
    auth = OneLogin_Saml2_Auth(request_data_for(built.urls.sls), old_settings=built.login)
    auth.add_request_signature(parameters, C.RSA_SHA256)
    return OneLogin_Saml2_Utils.redirect(idp.slo_url, parameters)


@dataclass(frozen=True)
class InboundLogout:
    root: etree._Element
    raw: bytes
    relay_state: str


def _kind(saml_type: str) -> str:
    return "request" if saml_type == "SAMLRequest" else "response"


def logged_out_path(idp: IdentityProvider) -> str:
    return reverse("sso:logged_out", args=[idp.slug])


def _deprecated_check(root: etree._Element) -> None:
    for node in root.iterfind("ds:Signature/ds:SignedInfo/*", C.NSMAP):
        if node.get("Algorithm") in C.DEPRECATED_ALGORITHMS:
            raise SamlRefused(
                RefusalReason.DEPRECATED_ALGORITHM, f"{node.get('Algorithm')} is deprecated"
            )
    for node in root.iterfind("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestMethod", C.NSMAP):
        if node.get("Algorithm") in C.DEPRECATED_ALGORITHMS:
            raise SamlRefused(
                RefusalReason.DEPRECATED_ALGORITHM, f"{node.get('Algorithm')} is deprecated"
            )


def _read_redirect(built: BuiltSettings, query_string: str) -> InboundLogout:
    query = redirect_query_parse(query_string)
    certificates = built.login.get_idp_data()["x509certMulti"]["signing"]
    redirect_signature_verify(query, certificates=certificates)
    # Decoded from the very raw part the signature covered, never from a QueryDict.
    raw = redirect_message_decode(query.message)
    root = xml_parse(
        raw, root_tag=LOGOUT_REQUEST if query.saml_type == "SAMLRequest" else LOGOUT_RESPONSE
    )
    return InboundLogout(root=root, raw=raw, relay_state=query.relay_state)


def _read_post(built: BuiltSettings, params: dict[str, str]) -> InboundLogout:
    saml_type = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
    raw = b64_decode_strict(params[saml_type], limit=MAX_POST_BYTES)
    root_tag = LOGOUT_REQUEST if saml_type == "SAMLRequest" else LOGOUT_RESPONSE
    root = xml_parse(raw, root_tag=root_tag)
    signature_shape_check(root)
    if root.find("ds:Signature", C.NSMAP) is None:
        raise SamlRefused(RefusalReason.SIGNATURE, f"the logout {_kind(saml_type)} is not signed")
    _deprecated_check(root)
    signed_root_check(root)
    certs = built.login.get_idp_data()["x509certMulti"]["signing"]
    xpath = "/samlp:{}/ds:Signature".format(root_tag.split("}")[1])
    try:
        # raise_exceptions: without it validate_sign answers False instead of raising.
        verified = OneLogin_Saml2_Utils.validate_sign(
            raw, multicerts=certs, xpath=xpath, raise_exceptions=True
        )
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(RefusalReason.SIGNATURE, str(exc)) from exc
    except Exception as exc:
        raise SamlRefused(RefusalReason.SIGNATURE, f"{type(exc).__name__}: {exc}") from exc
    if verified is not True:
        raise SamlRefused(
            RefusalReason.SIGNATURE, f"the logout {_kind(saml_type)} signature is invalid"
        )
    return InboundLogout(root=root, raw=raw, relay_state=params.get("RelayState", ""))


def _common_checks(
    message: Any, built: BuiltSettings, inbound: InboundLogout, **kwargs: Any
) -> None:
    """python3-saml's schema, issuer and expiry checks, then our exact Destination."""
    request_data = request_data_for(built.urls.sls)
    try:
        valid = message.is_valid(request_data, raise_exceptions=True, **kwargs)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(reason_for_validation_error(exc.code), str(exc)) from exc
    except Exception as exc:
        raise SamlRefused(RefusalReason.VALIDATION, f"{type(exc).__name__}: {exc}") from exc
    if valid is not True:
        raise SamlRefused(
            RefusalReason.VALIDATION, message.get_error() or "python3-saml refused it"
        )
    destination = inbound.root.get("Destination")
    if destination is not None and not same_url(destination, built.urls.sls):
        raise SamlRefused(
            RefusalReason.DESTINATION, f"Destination {destination!r} is not {built.urls.sls!r}"
        )


def sls_handle(*, request: HttpRequest, idp: IdentityProvider) -> str:
    """Handle a logout message at /sls/ (either binding); returns the redirect URL."""
    built = saml_settings(idp)
    if request.method == "GET":
        inbound = _read_redirect(built, request.META.get("QUERY_STRING", ""))
    else:
        params = {key: str(request.POST.get(key, "")) for key in request.POST}
        if "SAMLRequest" not in params and "SAMLResponse" not in params:
            raise SamlRefused(
                RefusalReason.MALFORMED, "no logout request or response in the message"
            )
        inbound = _read_post(built, params)
    encoded = base64.b64encode(inbound.raw).decode()
    # python3-saml decodes with the settings that do not demand a query signature:
    # the signature was verified above, for either binding.
    if inbound.root.tag == LOGOUT_RESPONSE:
        return _logout_response_accept(
            request=request, idp=idp, built=built, inbound=inbound, encoded=encoded
        )
    return _logout_request_accept(idp=idp, built=built, inbound=inbound, encoded=encoded)


def _logout_response_accept(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    built: BuiltSettings,
    inbound: InboundLogout,
    encoded: str,
) -> str:
    response = OneLogin_Saml2_Logout_Response(built.login, encoded)
    _common_checks(response, built, inbound)
    in_response_to = response.get_in_response_to()
    if not in_response_to:
        raise SamlRefused(
            RefusalReason.IN_RESPONSE_TO_MISSING, "LogoutResponse without InResponseTo"
        )
    if not outstanding_request_consume(
        idp=idp,
        request_id=in_response_to,
        kind=LOGOUT,
        browser=browser_id(request.session, create=False),
    ):
        raise SamlRefused(
            RefusalReason.IN_RESPONSE_TO_UNKNOWN,
            f"no logout request {in_response_to!r} from this browser",
        )
    if response.get_status() != C.STATUS_SUCCESS:
        raise SamlRefused(
            RefusalReason.STATUS, f"the IdP reported logout status {response.get_status()!r}"
        )
    return safe_next(inbound.relay_state, default=logged_out_path(idp))


def _logout_request_accept(
    *, idp: IdentityProvider, built: BuiltSettings, inbound: InboundLogout, encoded: str
) -> str:
    logout_request = OneLogin_Saml2_Logout_Request(built.login, encoded)
    _common_checks(logout_request, built, inbound)
    remember_until = logout_request_window_check(inbound.root, idp=idp)
    name_id, session_indexes = _logout_subject(inbound)
    with transaction.atomic():
        # Used once: a captured logout URL must not end its person's later sessions.
        logout_request_remember(idp=idp, request_id=logout_request.id, until=remember_until)
        ended = saml_sessions_end(
            idp=idp,
            actor=Actor.idp(idp.slug),
            cause="idp",
            name_id=name_id,
            session_indexes=session_indexes,
        )
    logger.info("IdP-initiated logout", extra={"idp": idp.slug, "sessions_ended": ended})
    if not idp.slo_url:
        return logged_out_path(idp)
    return _logout_response_url(
        idp=idp, built=built, in_response_to=logout_request.id, relay_state=inbound.relay_state
    )


def _logout_subject(inbound: InboundLogout) -> tuple[str, list[str]]:
    """The NameID and SessionIndexes of a verified LogoutRequest, read as python3-saml
    reads them (children of the signed root)."""
    xml = inbound.raw.decode()
    try:
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
        session_indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(RefusalReason.NO_NAMEID, str(exc)) from exc
    if not name_id:
        raise SamlRefused(RefusalReason.NO_NAMEID, "LogoutRequest without NameID")
    return name_id, session_indexes


def _logout_response_url(
    *, idp: IdentityProvider, built: BuiltSettings, in_response_to: str, relay_state: str
) -> str:
    """Our signed LogoutResponse to the IdP's logout endpoint (Redirect binding)."""
    response_builder = OneLogin_Saml2_Logout_Response(built.login)
    response_builder.build(in_response_to)
    parameters = {"SAMLResponse": response_builder.get_response()}
    if relay_state:
        parameters["RelayState"] = relay_state
    auth = OneLogin_Saml2_Auth(request_data_for(built.urls.sls), old_settings=built.login)
    auth.add_response_signature(parameters, C.RSA_SHA256)
    return OneLogin_Saml2_Utils.redirect(idp.slo_url, parameters)
