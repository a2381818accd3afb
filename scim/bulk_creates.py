"""The plain user creates of a /Bulk request, written set-based.

An identity provider's first push is thousands of `POST /Users` in a row. Each is read
and validated on its own (as a single POST is), then a run of consecutive ones is
created by one users_create_many call: a constant number of statements per run instead
of a transaction per user. An operation that needs an earlier one (a "bulkId:"
reference), that cannot be read, or that is not a create goes through the one-by-one
path, after the run before it has been written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from axero_idp.errors import ApplicationError, Protocol, server_error_body
from scim.attributes import USER
from scim.errors import error_body
from scim.render import etag, location
from scim.user_resources import new_user, scim_user_create_input
from users.models import Source, UnmappedAttribute, User
from users.selectors import LazyCustomFields
from users.services import Actor, NewUser, attributes_unmapped_record, users_create_many

_USERS: Final = re.compile(r"^/Users$", re.IGNORECASE)
_REF: Final = re.compile(r"^bulkId:.+$")


@dataclass(frozen=True)
class _Create:
    bulk_id: str
    new_user: NewUser


@dataclass
class BulkRun:
    """One /Bulk request's progress: results so far, bulkIds seen and created, failures
    against failOnErrors, and the plain creates waiting to be written."""

    actor: Actor
    fail_on: int | None
    results: list[dict[str, Any]] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)
    used_bulk_ids: set[str] = field(default_factory=set)
    failures: int = 0
    waiting: list[_Create] = field(default_factory=list)
    fields: LazyCustomFields = field(default_factory=LazyCustomFields)
    # Attribute names the creates carried that map to no field (request log, admin).
    ignored: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return self.fail_on is not None and self.failures >= self.fail_on

    def record(self, entry: dict[str, Any]) -> None:
        self.results.append(entry)
        if int(entry["status"]) >= 400:
            self.failures += 1

    def create_later(self, op: Any) -> bool:
        """Keep op for the next set-based write if it is a plain, valid user create;
        False leaves it (and any error it has) to the one-by-one path."""
        plain = _plain_create(op, self.used_bulk_ids)
        if plain is None:
            return False
        bulk_id, data = plain
        ignored: list[str] = []
        try:
            parsed = scim_user_create_input(data, self.fields, ignored=ignored)
        except ApplicationError:
            return False
        self.used_bulk_ids.add(bulk_id)
        self.ignored.extend(ignored)
        self.waiting.append(_Create(bulk_id, new_user(parsed, ignored=ignored)))
        return True

    def creates_flush(self) -> None:
        """Create the waiting users together, recording one result each."""
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return
        budget = None if self.fail_on is None else self.fail_on - self.failures
        try:
            outcomes = users_create_many(
                actor=self.actor,
                source=Source.SCIM,
                new_users=[w.new_user for w in waiting],
                max_failures=budget,
            )
        except Exception:
            self._server_error(waiting)
            return
        for create, outcome in zip(waiting, outcomes, strict=True):
            if outcome is not None:
                self.record(self._entry(create, outcome))
        attributes_unmapped_record(
            protocol=UnmappedAttribute.Protocol.SCIM,
            names=[name for w in waiting for name in w.new_user.ignored],
            connection_id=self.actor.connection_id,
        )

    def _server_error(self, waiting: list[_Create]) -> None:
        # As the one-by-one path does for an operation; here the run failed as one.
        body = server_error_body(Protocol.SCIM, failed="Bulk creates")
        for create in waiting:
            self.record(
                {"method": "POST", "bulkId": create.bulk_id, "status": "500", "response": body}
            )

    def _entry(self, create: _Create, outcome: User | ApplicationError) -> dict[str, Any]:
        entry: dict[str, Any] = {"method": "POST", "bulkId": create.bulk_id}
        if isinstance(outcome, ApplicationError):
            entry["status"] = str(outcome.http_status)
            entry["response"] = error_body(outcome.http_status, outcome.detail, outcome.scim_type)
            return entry
        self.created[create.bulk_id] = str(outcome.pk)
        entry["location"] = location(USER, outcome.pk)
        entry["version"] = etag(outcome.version)
        entry["status"] = "201"
        return entry


def _plain_create(op: Any, used_bulk_ids: set[str]) -> tuple[str, dict[str, Any]] | None:
    """(bulkId, data) of a POST /Users that needs nothing from another operation."""
    if not isinstance(op, dict):
        return None
    lowered = {str(k).lower(): v for k, v in op.items()}
    bulk_id, data = lowered.get("bulkid"), lowered.get("data")
    if not _posts_users(lowered) or not isinstance(bulk_id, str) or bulk_id in used_bulk_ids:
        return None
    if lowered.get("version") is not None or not isinstance(data, dict) or _names_bulk_id(data):
        return None
    return bulk_id, data


def _posts_users(lowered: dict[str, Any]) -> bool:
    path = lowered.get("path")
    method = str(lowered.get("method", "")).upper()
    return method == "POST" and isinstance(path, str) and bool(_USERS.match(path))


def _names_bulk_id(value: Any) -> bool:
    """Whether a "bulkId:..." reference appears anywhere in value."""
    if isinstance(value, str):
        return bool(_REF.match(value))
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(_names_bulk_id(v) for v in value)
