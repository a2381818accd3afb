"""SP-initiated and IdP-initiated login, as flows the views call.

- sso.login.state: the one-time state (outstanding requests, the replay cache; parked
  responses are sso.hop's),
- sso.login.start: the AuthnRequest and where the browser goes with it,
- sso.login.flow: one completion flow for both ACS transports, answering a LoginOutcome,
- sso.login.records: what a completed login leaves (session, SAML session, audit).
"""

from sso.login.flow import (
    LoginOutcome,
    LoginOutcomeKind,
    Parked,
    Posted,
    completes_in_post,
    login_complete,
)
from sso.login.start import LoginStart, authn_request_start
from sso.login.state import (
    AUTHN,
    BROWSER_KEY,
    LOGOUT,
    REQUEST_LIFETIME,
    assertion_remember,
    browser_id,
    outstanding_request_consume,
    outstanding_request_remember,
)

__all__ = [
    "AUTHN",
    "BROWSER_KEY",
    "LOGOUT",
    "REQUEST_LIFETIME",
    "LoginOutcome",
    "LoginOutcomeKind",
    "LoginStart",
    "Parked",
    "Posted",
    "assertion_remember",
    "authn_request_start",
    "browser_id",
    "completes_in_post",
    "login_complete",
    "outstanding_request_consume",
    "outstanding_request_remember",
]
