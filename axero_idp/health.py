"""Liveness and readiness probes for the load balancer and orchestrator."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        return type(exc).__name__
    return None


def _broker_ok() -> str | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except Exception as exc:
        logger.warning("readiness: broker unreachable: %s", type(exc).__name__)
        return type(exc).__name__
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    failing = {name: error for name, error in checks.items() if error}
    report = {name: ("ok" if not error else f"fail: {error}") for name, error in checks.items()}
    if not settings.REDIS_URL:
        report["broker"] = "not configured (tasks run in-process)"
    body = {"status": "ok" if not failing else "unavailable", "checks": report}
    return JsonResponse(body, status=200 if not failing else 503)
