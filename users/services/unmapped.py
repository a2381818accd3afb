"""Attributes an identity provider sent that map to no field: remembered per connection
for admin's "received but not mapped" list, so nothing is dropped without a trace."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Final

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from users.models import Connection, UnmappedAttribute

logger = logging.getLogger(__name__)

# Identity providers repeat the same unmapped attributes on every push and login: one
# write per connection, protocol and set of names in this window is enough to keep
# "last seen" useful without a write per request.
RECORD_EVERY_SECONDS: Final = 600
MAX_NAME: Final = 300


def attributes_unmapped_record(
    *,
    protocol: str,
    names: Iterable[str],
    connection_id: int | None = None,
    connection_slug: str | None = None,
) -> None:
    """Remember names that mapped to nothing (the connection by id or by slug; neither:
    an unbound SCIM token). Never fails the request that received them."""
    unique = sorted({name[:MAX_NAME] for name in names if name})
    if not unique:
        return
    scope = connection_id if connection_slug is None else connection_slug
    digest = hashlib.sha256(f"{protocol}|{scope}|{'|'.join(unique)}".encode()).hexdigest()
    try:
        if not cache.add(f"unmapped:{digest}", 1, timeout=RECORD_EVERY_SECONDS):
            return
    except Exception:  # the cache is an optimisation: without it, write every time
        logger.warning("cache unavailable; recording unmapped attributes anyway")
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work
            _upsert(protocol, unique, connection_id, connection_slug)
    except Exception:
        logger.exception("could not record unmapped attributes")


def _upsert(
    protocol: str, names: list[str], connection_id: int | None, connection_slug: str | None
) -> None:
    if connection_slug is not None:
        found = Connection.objects.filter(slug=connection_slug).values_list("pk", flat=True)
        connection_id = next(iter(found), None)
    now = timezone.now()
    UnmappedAttribute.objects.bulk_create(
        [
            UnmappedAttribute(
                connection_id=connection_id,
                protocol=protocol,
                name=name,
                first_seen=now,
                last_seen=now,
            )
            for name in names
        ],
        update_conflicts=True,
        unique_fields=["connection", "protocol", "name"],
        update_fields=["last_seen"],
    )


def attribute_unmapped_forget(*, row: UnmappedAttribute) -> None:
    """Drop a row once its attribute has a field (it is recorded again if still sent)."""
    UnmappedAttribute.objects.filter(pk=row.pk).delete()
