"""The product's settings minus the `sso` app, with the bare ACS's URLs.

Without `sso` nothing patches python3-saml (sso.apps installs a compiled-schema cache):
the bare ACS runs python3-saml exactly as shipped, like its Django demo. The database
and sessions are the product's, so both sides pay the same for a login.
BARE_SAML_SETTINGS names the JSON file (python3-saml's settings dict) the benchmark
writes, like the demo's settings.json.
"""

from axero_idp.settings import *  # noqa: F403
from axero_idp.settings import INSTALLED_APPS, env

INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("sso")]
ROOT_URLCONF = "bench.bare_acs.urls"
BARE_SAML_SETTINGS = env.str("BARE_SAML_SETTINGS", default="")
