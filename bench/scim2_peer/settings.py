"""Settings of the django-scim2 peer: Django's startproject defaults on PostgreSQL.

Environment (set by bench/scim_create_bench.py): SCIM2_DATABASE_URL, SECRET_KEY.
"""

import os
from urllib.parse import urlsplit

_db = urlsplit(os.environ.get("SCIM2_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scim2_d"))

SECRET_KEY = os.environ.get("SECRET_KEY", "scim2-peer-bench-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_scim",
    "scim2_peer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "scim2_peer.auth.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scim2_peer.urls"
WSGI_APPLICATION = "scim2_peer.wsgi.application"
AUTH_USER_MODEL = "scim2_peer.User"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": _db.username or "postgres",
        "PASSWORD": _db.password or "",
        "HOST": _db.hostname or "127.0.0.1",
        "PORT": str(_db.port or 5432),
        # Persistent connections, as the product has (DB_CONN_MAX_AGE); the bench sets
        # the same age for both, long enough to outlive a run.
        "CONN_MAX_AGE": int(os.environ.get("SCIM2_CONN_MAX_AGE", "60")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

SCIM_SERVICE_PROVIDER = {
    "GROUP_MODEL": "scim2_peer.models.Group",
    "NETLOC": "127.0.0.1",
    "SCHEME": "http",
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
        }
    ],
}
