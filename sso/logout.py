"""Single logout, both ways.

SP-initiated: the local session ends at once, then a signed LogoutRequest goes to the
IdP, whose LogoutResponse comes back to /sls/. IdP-initiated: a LogoutRequest must be
signed (query signature in the Redirect binding, XML signature in the POST binding);
every session the IdP opened for that NameID (and SessionIndex, when given) ends, and
a signed LogoutResponse goes back.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import logout as django_logout
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso import refusals
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
from sso.models import IdentityProvider, SamlSession
from sso.redirects import safe_next
from sso.refusals import SamlRefused
from sso.saml_settings import BuiltSettings, request_data_for, saml_settings
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
                refusals.DEPRECATED_ALGORITHM, f"{node.get('Algorithm')} is deprecated"
            )
    for node in root.iterfind("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestMethod", C.NSMAP):
        if node.get("Algorithm") in C.DEPRECATED_ALGORITHMS:
            raise SamlRefused(
                refusals.DEPRECATED_ALGORITHM, f"{node.get('Algorithm')} is deprecated"
            )


def _read_redirect(
    built: BuiltSettings, params: dict[str, str], query_string: str
) -> InboundLogout:
    saml_type = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
    raw = redirect_message_decode(params[saml_type])
    root = xml_parse(
        raw, root_tag=LOGOUT_REQUEST if saml_type == "SAMLRequest" else LOGOUT_RESPONSE
    )
    if "Signature" not in params:
        raise SamlRefused(refusals.SIGNATURE, f"the logout {_kind(saml_type)} is not signed")
    if params.get("SigAlg") in C.DEPRECATED_ALGORITHMS:
        raise SamlRefused(refusals.DEPRECATED_ALGORITHM, f"{params.get('SigAlg')} is deprecated")
    request_data = request_data_for(built.urls.sls, get=params, query_string=query_string)
    auth = OneLogin_Saml2_Auth(request_data, old_settings=built.logout)
    try:
        # Over the raw query string as the IdP signed it (validate_signature_from_qs).
        verified = auth._validate_signature(params, saml_type, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.reason_for_validation_error(exc.code), str(exc)) from exc
    except (OneLogin_Saml2_Error, ValueError) as exc:
        raise SamlRefused(refusals.SIGNATURE, str(exc)) from exc
    if verified is not True:
        raise SamlRefused(refusals.SIGNATURE, f"the logout {_kind(saml_type)} signature is invalid")
    return InboundLogout(root=root, raw=raw, relay_state=params.get("RelayState", ""))


def _read_post(built: BuiltSettings, params: dict[str, str]) -> InboundLogout:
    saml_type = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
    raw = b64_decode_strict(params[saml_type], limit=MAX_POST_BYTES)
    root_tag = LOGOUT_REQUEST if saml_type == "SAMLRequest" else LOGOUT_RESPONSE
    root = xml_parse(raw, root_tag=root_tag)
    signature_shape_check(root)
    if root.find("ds:Signature", C.NSMAP) is None:
        raise SamlRefused(refusals.SIGNATURE, f"the logout {_kind(saml_type)} is not signed")
    _deprecated_check(root)
    certs = built.login.get_idp_data()["x509certMulti"]["signing"]
    xpath = "/samlp:{}/ds:Signature".format(root_tag.split("}")[1])
    try:
        # raise_exceptions: without it validate_sign answers False instead of raising.
        verified = OneLogin_Saml2_Utils.validate_sign(
            raw, multicerts=certs, xpath=xpath, raise_exceptions=True
        )
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.SIGNATURE, str(exc)) from exc
    except Exception as exc:
        raise SamlRefused(refusals.SIGNATURE, f"{type(exc).__name__}: {exc}") from exc
    if verified is not True:
        raise SamlRefused(refusals.SIGNATURE, f"the logout {_kind(saml_type)} signature is invalid")
    return InboundLogout(root=root, raw=raw, relay_state=params.get("RelayState", ""))


def _common_checks(
    message: Any, built: BuiltSettings, inbound: InboundLogout, **kwargs: Any
) -> None:
    """python3-saml's schema, issuer and expiry checks, then our exact Destination."""
    request_data = request_data_for(built.urls.sls)
    try:
        valid = message.is_valid(request_data, raise_exceptions=True, **kwargs)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.reason_for_validation_error(exc.code), str(exc)) from exc
    except Exception as exc:
        raise SamlRefused(refusals.VALIDATION, f"{type(exc).__name__}: {exc}") from exc
    if valid is not True:
        raise SamlRefused(refusals.VALIDATION, message.get_error() or "python3-saml refused it")
    destination = inbound.root.get("Destination")
    if destination is not None and not same_url(destination, built.urls.sls):
        raise SamlRefused(
            refusals.DESTINATION, f"Destination {destination!r} is not {built.urls.sls!r}"
        )


def sls_handle(*, request: HttpRequest, idp: IdentityProvider) -> str:
    """Handle a logout message at /sls/ (either binding); returns the redirect URL."""
    built = saml_settings(idp)
    source = request.GET if request.method == "GET" else request.POST
    params: dict[str, str] = {key: str(source.get(key, "")) for key in source}
    if "SAMLRequest" not in params and "SAMLResponse" not in params:
        raise SamlRefused(refusals.MALFORMED, "no logout request or response in the message")
    if request.method == "GET":
        inbound = _read_redirect(built, params, request.META.get("QUERY_STRING", ""))
    else:
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
        raise SamlRefused(refusals.IN_RESPONSE_TO_MISSING, "LogoutResponse without InResponseTo")
    if not outstanding_request_consume(
        idp=idp,
        request_id=in_response_to,
        kind=LOGOUT,
        browser=browser_id(request.session, create=False),
    ):
        raise SamlRefused(
            refusals.IN_RESPONSE_TO_UNKNOWN,
            f"no logout request {in_response_to!r} from this browser",
        )
    if response.get_status() != C.STATUS_SUCCESS:
        raise SamlRefused(
            refusals.STATUS, f"the IdP reported logout status {response.get_status()!r}"
        )
    return safe_next(inbound.relay_state, default=logged_out_path(idp))


def _logout_request_accept(
    *, idp: IdentityProvider, built: BuiltSettings, inbound: InboundLogout, encoded: str
) -> str:
    logout_request = OneLogin_Saml2_Logout_Request(built.login, encoded)
    _common_checks(logout_request, built, inbound)
    xml = inbound.raw.decode()
    try:
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
        session_indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefused(refusals.NO_NAMEID, str(exc)) from exc
    if not name_id:
        raise SamlRefused(refusals.NO_NAMEID, "LogoutRequest without NameID")
    ended = saml_sessions_end(idp=idp, name_id=name_id, session_indexes=session_indexes)
    if not idp.slo_url:
        return logged_out_path(idp)
    response_builder = OneLogin_Saml2_Logout_Response(built.login)
    response_builder.build(logout_request.id)
    parameters = {"SAMLResponse": response_builder.get_response()}
    if inbound.relay_state:
        parameters["RelayState"] = inbound.relay_state
    auth = OneLogin_Saml2_Auth(request_data_for(built.urls.sls), old_settings=built.login)
    auth.add_response_signature(parameters, C.RSA_SHA256)
    logger.info("IdP-initiated logout", extra={"idp": idp.slug, "sessions_ended": ended})
    return OneLogin_Saml2_Utils.redirect(idp.slo_url, parameters)


@transaction.atomic
def saml_sessions_end(*, idp: IdentityProvider, name_id: str, session_indexes: list[str]) -> int:
    """Delete every Django session idp opened for name_id (only those with one of
    session_indexes, when the IdP names any). Returns how many ended."""
    query = SamlSession.objects.select_for_update().filter(idp=idp, name_id=name_id)
    if session_indexes:
        query = query.filter(session_index__in=session_indexes)
    rows = list(query.values_list("pk", "session_key", "user_id"))
    if not rows:
        return 0
    Session.objects.filter(session_key__in=[key for _, key, _ in rows]).delete()
    SamlSession.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    for user_id in sorted({str(user_id) for _, _, user_id in rows}):
        audit_record(
            actor=Actor.idp(idp.slug),
            action="saml.logout",
            target_type="user",
            target_id=user_id,
            detail={"idp": idp.slug, "initiated_by": "idp", "sessions_ended": len(rows)},
        )
    return len(rows)
