"""The SAML fixtures (the pysaml2 IdP peer, the browser driver) serve the console too."""

from tests.sso.conftest import browser, peer, peer_keys, site, xmlsec1  # noqa: F401
