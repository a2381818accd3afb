"""The product's settings with the bare ACS's URLs; BARE_SAML_SETTINGS names the JSON
file (python3-saml's settings dict) that the benchmark writes, like the demo's
settings.json."""

from axero_idp.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_acs.urls"
BARE_SAML_SETTINGS = env.str("BARE_SAML_SETTINGS", default="")  # noqa: F405
