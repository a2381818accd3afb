"""The product's settings minus the `sso` app, with the bare ACS's URLs.

Without `sso` nothing patches python3-saml (sso.apps installs a compiled-schema cache):
the bare ACS runs python3-saml exactly as shipped, like its Django demo. The database
is the product's. Sessions and last_login are stock Django, as in python3-saml's demo
(Django's database session engine, Django's update_last_login on every login), unless
BARE_PRODUCT_SESSIONS=true gives the bare ACS the product's leaner session store and
coarse last_login too (bench/saml_bench.py --bare-product-sessions).
BARE_SAML_SETTINGS names the JSON file (python3-saml's settings dict) the benchmark
writes, like the demo's settings.json.
"""

from axero_idp.settings import *  # noqa: F403
from axero_idp.settings import INSTALLED_APPS, env

INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("sso")]
INSTALLED_APPS.append("bench.bare_acs.apps.BareAcsConfig")
ROOT_URLCONF = "bench.bare_acs.urls"
BARE_SAML_SETTINGS = env.str("BARE_SAML_SETTINGS", default="")
BARE_PRODUCT_SESSIONS = env.bool("BARE_PRODUCT_SESSIONS", default=False)
if not BARE_PRODUCT_SESSIONS:
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
