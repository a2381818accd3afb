"""An independent SAML identity provider for the end-to-end tests: PyPI pysaml2
(`saml2.server.Server`) builds the messages, Debian's xmlsec1 signs them.

It shares no code with `sso/`: it reads the SP only through what a real IdP sees (SP
metadata, the login redirect, the logout redirects), so a bug on one side cannot hide
a bug on the other. Every attack of SAML_SECURITY.md is made here by post-processing a
correctly signed response with lxml (`attacks`).

Modules: `keys` (RSA keys, self-signed certificates), `bindings` (Redirect and POST),
`responses` (shaping a pysaml2 Response; `OddShape`, the shapes a conformance suite
tries), `peer` (the IdP; it also encrypts assertions), `attacks`. Everything is
re-exported here: `from tests.sso.idp_peer import IdpPeer, post_form, strip_signatures`.
"""

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS

from tests.sso.idp_peer.attacks import (
    billion_laughs,
    deflate_bomb,
    doctype_xxe,
    in_response_to_on_envelope,
    name_id_comment_inject,
    name_id_replace,
    strip_assertion_signature,
    strip_signatures,
    xsw_evil_assertion_first,
    xsw_signed_assertion_moved,
)
from tests.sso.idp_peer.bindings import (
    RedirectMessage,
    deflate,
    inflate,
    post_form,
    post_form_html,
    query_param,
    redirect_message_read,
    redirect_url,
)
from tests.sso.idp_peer.common import (
    DIGEST_SHA1,
    DIGEST_SHA256,
    NS,
    RSA_SHA1,
    RSA_SHA256,
    now,
    saml_time,
)
from tests.sso.idp_peer.keys import KeyPair, certificate_from_b64
from tests.sso.idp_peer.peer import AuthnRequestSeen, IdpPeer, SpView, sp_metadata_read
from tests.sso.idp_peer.responses import OddShape

__all__ = [
    "BINDING_HTTP_POST",
    "BINDING_HTTP_REDIRECT",
    "DIGEST_SHA1",
    "DIGEST_SHA256",
    "NAMEID_FORMAT_EMAILADDRESS",
    "NS",
    "RSA_SHA1",
    "RSA_SHA256",
    "AuthnRequestSeen",
    "IdpPeer",
    "KeyPair",
    "OddShape",
    "RedirectMessage",
    "SpView",
    "billion_laughs",
    "certificate_from_b64",
    "deflate",
    "deflate_bomb",
    "doctype_xxe",
    "in_response_to_on_envelope",
    "inflate",
    "name_id_comment_inject",
    "name_id_replace",
    "now",
    "post_form",
    "post_form_html",
    "query_param",
    "redirect_message_read",
    "redirect_url",
    "saml_time",
    "sp_metadata_read",
    "strip_assertion_signature",
    "strip_signatures",
    "xsw_evil_assertion_first",
    "xsw_signed_assertion_moved",
]
