"""Starting a login: a signed AuthnRequest, remembered for the browser that asked."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.login.state import AUTHN, outstanding_request_remember
from sso.models import IdentityProvider, SsoBinding
from sso.redirects import safe_next
from sso.saml_settings import BuiltSettings, request_data_for, saml_settings


@dataclass(frozen=True)
class LoginStart:
    """How to send the browser to the IdP: a redirect URL, or a form to auto-post."""

    redirect_url: str | None = None
    post_url: str | None = None
    post_fields: dict[str, str] | None = None


def authn_request_start(
    *,
    idp: IdentityProvider,
    browser: str,
    next_path: str | None,
    login_hint: str = "",
    dry_run_by: str = "",
) -> LoginStart:
    """Build a signed AuthnRequest, remember its ID for this browser id (the binding
    cookie's), say where to go. A login hint (the email the person typed at /sso/) rides
    along as the `login_hint` query parameter Entra ID, Okta and Google read; it is not
    part of the signed message, and an IdP that does not know it ignores it. With
    dry_run_by (an admin's username) its answer is a test login: shown to that browser,
    never applied."""
    built = saml_settings(idp)
    relay_state = safe_next(next_path)
    authn = OneLogin_Saml2_Authn_Request(built.login)
    outstanding_request_remember(
        idp=idp, request_id=authn.get_id(), kind=AUTHN, browser=browser, dry_run_by=dry_run_by
    )
    if idp.sso_binding == SsoBinding.POST:
        return _post_start(idp=idp, built=built, authn=authn, relay_state=relay_state)
    parameters = {"SAMLRequest": authn.get_request(), "RelayState": relay_state}
    auth = OneLogin_Saml2_Auth(request_data_for(built.urls.acs), old_settings=built.login)
    auth.add_request_signature(parameters, C.RSA_SHA256)
    if login_hint:
        parameters["login_hint"] = login_hint
    return LoginStart(redirect_url=OneLogin_Saml2_Utils.redirect(idp.sso_url, parameters))


def _post_start(
    *,
    idp: IdentityProvider,
    built: BuiltSettings,
    authn: OneLogin_Saml2_Authn_Request,
    relay_state: str,
) -> LoginStart:
    # The HTTP-POST binding signs the XML itself (an enveloped signature).
    sp = built.login.get_sp_data()
    signed = OneLogin_Saml2_Utils.add_sign(
        authn.get_xml(),
        sp["privateKey"],
        sp["x509cert"],
        sign_algorithm=C.RSA_SHA256,
        digest_algorithm=C.SHA256,
    )
    return LoginStart(
        post_url=idp.sso_url,
        post_fields={"SAMLRequest": base64.b64encode(signed).decode(), "RelayState": relay_state},
    )
