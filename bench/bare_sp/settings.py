"""Settings of the bare SP: Django's `startproject` defaults, as python3-saml's
demo-django uses them, on PostgreSQL. Nothing here comes from the product.

Environment (set by bench/saml_bench.py): BARE_DATABASE_URL, BARE_SAML_SETTINGS (the
python3-saml settings dict as JSON, like the demo's settings.json), SECRET_KEY.
"""

import os
from urllib.parse import urlsplit

_db = urlsplit(os.environ.get("BARE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bare_d"))

SECRET_KEY = os.environ.get("SECRET_KEY", "bare-sp-bench-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]

# Django's startproject middleware, as the demo has it.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bare_sp.urls"
WSGI_APPLICATION = "bare_sp.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": _db.username or "postgres",
        "PASSWORD": _db.password or "",
        "HOST": _db.hostname or "127.0.0.1",
        "PORT": str(_db.port or 5432),
        # Persistent connections, as the product has (DB_CONN_MAX_AGE): a fresh
        # connection per request would make the bare SP the slower one for no reason.
        # The bench sets the same age for both (long enough to outlive a run, so the
        # PostgreSQL backends it counts CPU of live through each round).
        "CONN_MAX_AGE": int(os.environ.get("BARE_CONN_MAX_AGE", "60")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's defaults, spelled out: database sessions, JSON serializer.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

SAML_SETTINGS_FILE = os.environ.get("BARE_SAML_SETTINGS", "")
