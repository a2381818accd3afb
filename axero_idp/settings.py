"""Settings, read from the environment in one place (INTERFACES.md §2).

Every knob an operator may turn is an environment variable; nothing secret has a
default here. `make run` generates a SECRET_KEY into var/ and turns DEBUG on.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG: bool = env.bool("DEBUG", default=False)
SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. `make run` generates one into var/; in production set it "
        "in the environment."
    )

# Rotation: the previous SECRET_KEY(s), comma separated. Sessions and signed values made
# with them stay valid, and SP private keys stay readable until `manage.py sp_keys
# reencrypt` (README "Operating in production").
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])

SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.netloc:
    raise ImproperlyConfigured(f"SITE_URL must be an absolute http(s) URL, got {SITE_URL!r}")
SITE_IS_HTTPS = _site.scheme == "https"

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
if _site.hostname and _site.hostname not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_site.hostname)
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "axero_idp",
    "users.apps.UsersConfig",
    "scim.apps.ScimConfig",
    "sso.apps.SsoConfig",
    "media.apps.MediaConfig",
    "personas.apps.PersonasConfig",
    "events.apps.EventsConfig",
    "portal.apps.PortalConfig",
]

MIDDLEWARE = [
    "axero_idp.request_id.RequestIdMiddleware",
    "axero_idp.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "axero_idp.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "axero_idp.urls"
WSGI_APPLICATION = "axero_idp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "axero_idp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL only (one engine: what runs in production is what `make run` and `make
# test` run; they start an embedded PostgreSQL when no server is given: tests/tools/devdb.py).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/axero"),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        f"DATABASE_URL must name a PostgreSQL database (postgres://...), got engine "
        f"{DATABASES['default']['ENGINE']!r}. `make run` starts an embedded one."
    )
# Django's PostgreSQL backend, less the round trips a request does not wait for: a
# health check without `SELECT 1`, and write-behind rows (axero_idp/db/).
DATABASES["default"]["ENGINE"] = "axero_idp.db"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# Behind PgBouncer in transaction mode: a server-side cursor (WITH HOLD with our backend)
# must not outlive the transaction whose server connection it lives on.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
)
# A persistent connection the server dropped (a restart, pg_terminate_backend, a
# failover) is noticed at the start of the next request and replaced, instead of
# failing that request (tests/faults/test_database_restart.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable server (a partition, a failover in progress) fails a connection
# attempt after this many seconds instead of libpq's "forever": the request gets its
# 500 and /readyz its 503 while a load balancer can still act on them.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Pages that need a person send an anonymous visitor to the sign-in page (/); admin
# keeps its own login form for local accounts.
LOGIN_URL = "/"
# How many proxies (load balancer, ingress) append to X-Forwarded-For in front of the
# web processes: the client's address is then that many entries from the right
# (axero_idp.client_address). 0: REMOTE_ADDR is the client.
TRUSTED_PROXY_HOPS: int = env.int("TRUSTED_PROXY_HOPS", default=0)
# Failed admin sign-ins allowed per 15 minutes, per username and per client address.
ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME: int = env.int(
    "ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME", default=5
)
ADMIN_LOGIN_MAX_FAILURES_PER_IP: int = env.int("ADMIN_LOGIN_MAX_FAILURES_PER_IP", default=30)

# Only a proxy in front of every request may choose the request id (support reference):
# set this when it sets X-Request-ID itself and drops the clients' one.
TRUST_REQUEST_ID_HEADER: bool = env.bool("TRUST_REQUEST_ID_HEADER", default=False)

REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="axero"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions live in the database so every web process sees every session and a
# deactivation or single logout can end them from anywhere.
# Database sessions with fewer writes per login (see axero_idp/sessions.py).
SESSION_ENGINE = "axero_idp.sessions"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SITE_IS_HTTPS
CSRF_COOKIE_SECURE = SITE_IS_HTTPS
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Production transport security follows SITE_URL's scheme (INTERFACES.md §2): an
# http:// SITE_URL is a local run or a test and serves plain HTTP even with DEBUG off.
if SITE_IS_HTTPS and not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = False
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Where a SAML login lands when it names no safe `next` (a same-site relative path).
SSO_DEFAULT_NEXT: str = env.str("SSO_DEFAULT_NEXT", default="/")
SAML_METADATA_ALLOW_PRIVATE_NETWORKS: bool = env.bool(
    "SAML_METADATA_ALLOW_PRIVATE_NETWORKS", default=False
)
IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS: bool = env.bool(
    "IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS", default=False
)
# A photo download (redirects included) ends after this many seconds, however steadily
# the server trickles bytes: a worker is held no longer.
IMAGE_FETCH_DEADLINE_SECONDS: float = env.float("IMAGE_FETCH_DEADLINE_SECONDS", default=20.0)

# Webhook URLs, like photo URLs, may not reach private or loopback networks unless this
# says so (tests, local demos).
WEBHOOKS_ALLOW_PRIVATE_NETWORKS: bool = env.bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)
# Events stay in the feed (and webhook deliveries can be resent) this many days.
EVENTS_RETENTION_DAYS: int = env.int("EVENTS_RETENTION_DAYS", default=30)

# Celery: with no REDIS_URL (make run) tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER: bool = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A worker (re)started while Redis is down waits for it instead of exiting.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message a worker took but never acknowledged (the whole worker was killed: a deploy,
# the OOM killer) goes back to the queue after the visibility timeout. It must exceed
# the longest countdown a task is queued with (a webhook retry: an hour), or Redis would
# hand a waiting task to a second worker; two hours. A killed pool process is requeued
# at once (task_reject_on_worker_lost), and every outbox (photo fetches, persona marks,
# events) is drained by beat every minute, so a lost message costs a minute, not two
# hours. README "Operating in production". Each worker looks for such messages every
# CELERY_BROKER_RESTORE_INTERVAL seconds (one indexed Redis query).
CELERY_BROKER_VISIBILITY_TIMEOUT: int = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=7200)
CELERY_BROKER_RESTORE_INTERVAL: int = env.int("CELERY_BROKER_RESTORE_INTERVAL", default=30)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "socket_connect_timeout": 2,
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": CELERY_BROKER_RESTORE_INTERVAL,
    # Every sweep scans (kombu's default scans one in ten: a 100-second period).
    "unacked_restore_throttle": 1,
}
# Queueing happens in web requests after commit: one quick retry (a pooled connection
# Redis dropped is replaced), then the caller logs and moves on, because every queued
# task has a PostgreSQL outbox behind it that beat drains. Celery's default (3 retries
# with sleeps) made a SCIM create take 1.3 s with Redis down; this makes it 0.12 s.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
CELERY_BEAT_SCHEDULE["scim-request-log-prune"] = {
    "task": "scim.tasks.request_log_prune",
    "schedule": 24 * 3600.0,
}

# SCIM: request bodies above this are refused with 413 before parsing (Bulk advertises it).
SCIM_MAX_BODY_BYTES: int = env.int("SCIM_MAX_BODY_BYTES", default=1024 * 1024)
# Every URL: a declared body above this is refused with 413 before anything reads it
# (axero_idp/request_limits.py); never below the SCIM cap or the image upload cap.
REQUEST_MAX_BODY_BYTES: int = max(
    env.int("REQUEST_MAX_BODY_BYTES", default=16 * 1024 * 1024),
    SCIM_MAX_BODY_BYTES + 65536,
    6 * 1024 * 1024,  # a 5 MB profile image with its multipart envelope (media.uploads)
)
SCIM_REQUEST_LOG_RETENTION_DAYS: int = env.int("SCIM_REQUEST_LOG_RETENTION_DAYS", default=30)
# With Redis and a Celery worker, a SCIM request appends its log row to a Redis list and a
# worker writes the rows in batches a few seconds later (scim.requestlog_buffer); false,
# or without Redis, or with tasks run in-process, each request INSERTs its own row.
SCIM_REQUEST_LOG_BUFFER: bool = env.bool("SCIM_REQUEST_LOG_BUFFER", default=True)
# Safety net under the drain each buffered request queues (a lost message, a full restart).
CELERY_BEAT_SCHEDULE["scim-request-log-drain"] = {
    "task": "scim.tasks.request_log_drain",
    "schedule": 60.0,
}
# Requests a minute per SCIM token and SAML responses a minute per IdP's ACS, shared by
# every process through Redis (0: no limit). Generous on purpose: an IdP that is
# throttled too often during a first sync quarantines the app (Entra ID), so the limits
# only stop runaway clients. README "Rate limits".
SCIM_RATE_LIMIT_PER_MINUTE: int = env.int("SCIM_RATE_LIMIT_PER_MINUTE", default=12000)
SAML_ACS_RATE_LIMIT_PER_MINUTE: int = env.int("SAML_ACS_RATE_LIMIT_PER_MINUTE", default=6000)
# Anonymous clients must not fill tables: requests without a valid SCIM token write at
# most this many request-log rows per minute (all are logged), and refused SAML
# messages at most this many audit rows per IdP per minute (unknown slugs: none).
SCIM_UNAUTHENTICATED_LOG_PER_MINUTE: int = env.int(
    "SCIM_UNAUTHENTICATED_LOG_PER_MINUTE", default=10
)
SAML_REFUSAL_AUDIT_PER_MINUTE: int = env.int("SAML_REFUSAL_AUDIT_PER_MINUTE", default=30)
CELERY_BEAT_SCHEDULE["sso-idp-metadata-refresh"] = {
    "task": "sso.tasks.idp_metadata_refresh_all",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["sso-saml-state-purge"] = {
    "task": "sso.tasks.saml_state_purge",
    "schedule": 3600.0,
}
# Login flows (every SAML login attempt, sso.flows): kept this many days, pruned daily.
LOGIN_FLOWS_RETENTION_DAYS: int = env.int("LOGIN_FLOWS_RETENTION_DAYS", default=30)
CELERY_BEAT_SCHEDULE["sso-login-flows-purge"] = {
    "task": "sso.tasks.login_flows_purge",
    "schedule": 24 * 3600.0,
}

# Profile images: photo URLs set by SCIM and SAML wait in an outbox (media.pending),
# drained after each commit and every minute here (after a broker outage or a killed
# worker); the catch-up is the last safety net (URLs never handled by any path, and
# failures older than a day).
CELERY_BEAT_SCHEDULE["media-photo-fetches-drain"] = {
    "task": "media.tasks.photo_fetches_drain",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["media-photo-fetch-catch-up"] = {
    "task": "media.tasks.photo_fetch_catch_up",
    "schedule": 15 * 60.0,
}
# Photos served at a stable URL change behind it (OneLogin, Entra): each stored photo
# URL is re-checked with a conditional GET about once a day, a bounded batch per run.
CELERY_BEAT_SCHEDULE["media-photo-refresh"] = {
    "task": "media.tasks.photo_refresh_due",
    "schedule": 3600.0,
}
# The outbox is the truth: every minute, events a dispatch after commit missed (broker
# down, worker killed) are stamped and delivered, and due retries go out.
CELERY_BEAT_SCHEDULE["events-dispatch"] = {
    "task": "events.tasks.events_dispatch",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["events-prune"] = {
    "task": "events.tasks.events_prune",
    "schedule": 24 * 3600.0,
}
# Personas: drain the pending marks every minute (events also queue a drain at once, so
# this only matters after a broker outage), and re-evaluate every persona daily
# (time rules move with the calendar).
CELERY_BEAT_SCHEDULE["personas-pending-drain"] = {
    "task": "personas.tasks.personas_pending_drain",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["personas-evaluate-daily"] = {
    "task": "personas.tasks.personas_evaluate_daily",
    "schedule": 24 * 3600.0,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes anonymous calls a 401.
        "scim.api_auth.ProvisioningTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A person by default: a view that also accepts provisioning tokens says so itself
    # (principals.token_or_permission, or its own rule as the image API does).
    "DEFAULT_PERMISSION_CLASSES": ["axero_idp.principals.IsPerson"],
    "EXCEPTION_HANDLER": "axero_idp.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "axero_idp.request_id.RequestIdLogFilter"}},
    "formatters": {"json": {"()": "axero_idp.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
        "saml2": {"level": "WARNING"},
    },
}

# User.username is unique case-insensitively by a functional unique constraint
# (users_user_username_ci_unique), which Django's check does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.E003"]
