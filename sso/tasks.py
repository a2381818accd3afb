"""Celery tasks of the SSO app: thin, idempotent, retried on network errors only."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from sso.flows import login_flows_purge as login_flows_purge_service
from sso.metadata import MetadataFetchFailed
from sso.models import (
    IdentityProvider,
    OutstandingRequest,
    PendingResponse,
    SamlSession,
    SeenAssertion,
)
from sso.services import idp_metadata_refresh as idp_metadata_refresh_service

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(MetadataFetchFailed,),
    retry_backoff=60,
    max_retries=5,
    time_limit=60,
    soft_time_limit=50,
)
def idp_metadata_refresh(idp_id: int) -> bool:
    """Refresh one IdP's configuration from its metadata URL."""
    return idp_metadata_refresh_service(idp_id=idp_id)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def idp_metadata_refresh_all() -> int:
    """Queue a refresh for every active IdP with a metadata URL (Celery beat, daily)."""
    ids = list(
        IdentityProvider.objects.filter(is_active=True)
        .exclude(metadata_url="")
        .values_list("pk", flat=True)
    )
    for idp_id in ids:
        idp_metadata_refresh.delay(idp_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def saml_state_purge() -> int:
    """Delete expired request IDs, parked responses and replay-cache entries, and the
    SAML session records whose Django session is gone (hourly)."""
    now = timezone.now()
    deleted = 0
    for model in (OutstandingRequest, PendingResponse, SeenAssertion):
        count, _ = model.objects.filter(expires_at__lte=now).delete()
        deleted += count
    live = Session.objects.filter(expire_date__gt=now).values("session_key")
    count, _ = SamlSession.objects.exclude(session_key__in=live).delete()
    return deleted + count


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def login_flows_purge() -> int:
    """Delete login flows past LOGIN_FLOWS_RETENTION_DAYS (daily)."""
    return login_flows_purge_service()
