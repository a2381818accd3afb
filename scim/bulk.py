"""/Bulk (RFC 7644 §3.7): operations in order, each on its own, with bulkId references.

An operation may name a resource an earlier one created as "bulkId:<id>" (in its path
or anywhere in its data). Each operation commits or fails alone; `failOnErrors` stops
the run after that many failures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from axero_idp.errors import ApplicationError, Protocol, ValidationFailed, server_error_body
from scim import group_resources, user_resources
from scim.attributes import GROUP, USER
from scim.bulk_creates import BulkRun
from scim.discovery import MAX_OPERATIONS
from scim.errors import InvalidSyntax, TooManyOperations, error_body
from scim.render import Projection
from scim.result import Result
from users.services import Actor

BULK_REQUEST: Final = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE: Final = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/?]+))?$", re.IGNORECASE)
_REF = re.compile(r"^bulkId:(.+)$")
_PATH_REF = re.compile(r"bulkId:([^/?]+)")


def _resolve(value: Any, created: Mapping[str, str]) -> Any:
    """Replace every "bulkId:x" by the id operation x created."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            if match.group(1) not in created:
                raise ValidationFailed(f"bulkId {match.group(1)!r} names no earlier operation.")
            return created[match.group(1)]
        return value
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    return value


def _resolve_path(path: str, created: Mapping[str, str]) -> str:
    def swap(match: re.Match[str]) -> str:
        return str(_resolve(match.group(0), created))

    return _PATH_REF.sub(swap, path)


# One small handler per (method, resource type); each reads the handler off its module
# when called.
_Handler = Callable[[str, dict[str, Any], str | None, Actor], Result]


def _user_create(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return user_resources.scim_user_create(data, Projection(USER), actor=actor)


def _user_replace(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return user_resources.scim_user_replace(
        pk, data, Projection(USER), actor=actor, if_match=version
    )


def _user_modify(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return user_resources.scim_user_modify(
        pk, data, Projection(USER), actor=actor, if_match=version
    )


def _user_delete(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return user_resources.scim_user_delete(pk, actor=actor, if_match=version)


def _group_create(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return group_resources.scim_group_create(data, Projection(GROUP), actor=actor)


def _group_replace(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return group_resources.scim_group_replace(
        pk, data, Projection(GROUP), actor=actor, if_match=version
    )


def _group_modify(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return group_resources.scim_group_modify(
        pk, data, Projection(GROUP), actor=actor, if_match=version, answer=False
    )


def _group_delete(pk: str, data: dict[str, Any], version: str | None, actor: Actor) -> Result:
    return group_resources.scim_group_delete(pk, actor=actor, if_match=version)


_HANDLERS: Final[dict[tuple[str, str], _Handler]] = {
    ("POST", USER): _user_create,
    ("PUT", USER): _user_replace,
    ("PATCH", USER): _user_modify,
    ("DELETE", USER): _user_delete,
    ("POST", GROUP): _group_create,
    ("PUT", GROUP): _group_replace,
    ("PATCH", GROUP): _group_modify,
    ("DELETE", GROUP): _group_delete,
}


def _run(method: str, path: str, data: Any, version: str | None, actor: Actor) -> Result:
    match = _PATH.match(path)
    if not match:
        raise InvalidSyntax(f"Bulk path {path!r} is not /Users, /Groups or one of theirs.")
    kind = USER if match.group(1).lower() == "users" else GROUP
    pk = match.group(2) or ""
    # POST names the collection; PUT, PATCH and DELETE one resource of it.
    handler = _HANDLERS.get((method, kind))
    if handler is None or (method == "POST") == bool(pk):
        raise InvalidSyntax(f"Bulk does not support {method} {path}.")
    if method != "DELETE" and not isinstance(data, dict):
        raise InvalidSyntax(f"{method} {path}: 'data' must be an object.")
    return handler(pk, data, version, actor)


def _fail_on_errors(body: Mapping[str, Any]) -> int | None:
    fail_on = body.get("failOnErrors")
    if fail_on is not None and (
        not isinstance(fail_on, int) or isinstance(fail_on, bool) or fail_on < 1
    ):
        raise ValidationFailed("failOnErrors: expected a positive integer")
    return fail_on


def bulk_apply(
    body: Mapping[str, Any], *, actor: Actor, ignored: list[str] | None = None
) -> Result:
    """Apply a BulkRequest; what the plain creates carried that maps to no field is
    appended to `ignored` (the request log)."""
    raw = body.get("Operations")
    if not isinstance(raw, list):
        raise InvalidSyntax("A BulkRequest needs an 'Operations' list.")
    if len(raw) > MAX_OPERATIONS:
        raise TooManyOperations(f"{len(raw)} operations; at most {MAX_OPERATIONS} per request.")
    run = BulkRun(actor=actor, fail_on=_fail_on_errors(body))
    for index, op in enumerate(raw):
        # Consecutive plain creates wait to be written together; anything else first
        # lets them finish, so every operation still sees the ones before it done.
        if run.stopped or run.create_later(op):
            continue
        run.creates_flush()
        if not run.stopped:
            run.record(_one(index, op, run.created, run.used_bulk_ids, actor))
    run.creates_flush()
    if ignored is not None:
        ignored.extend(run.ignored)
    return Result(200, {"schemas": [BULK_RESPONSE], "Operations": run.results})


def _one(
    index: int, op: Any, created: dict[str, str], used_bulk_ids: set[str], actor: Actor
) -> dict[str, Any]:
    lowered = {str(k).lower(): v for k, v in op.items()} if isinstance(op, dict) else {}
    method = str(lowered.get("method", "")).upper()
    bulk_id = lowered.get("bulkid")
    entry: dict[str, Any] = {"method": method}
    if bulk_id is not None:
        entry["bulkId"] = bulk_id
    try:
        version = _checked(index, op, lowered, method, used_bulk_ids)
        path = _resolve_path(lowered["path"], created)
        data = _resolve(lowered.get("data"), created)
        result = _run(method, path, data, version, actor)
    except ApplicationError as exc:
        entry["status"] = str(exc.http_status)
        entry["response"] = error_body(exc.http_status, exc.detail, exc.scim_type)
        return entry
    except Exception:
        entry["status"] = "500"
        entry["response"] = server_error_body(Protocol.SCIM, failed=f"Bulk operation {index}")
        return entry
    return _done(entry, result, bulk_id, created)


def _checked(
    index: int, op: Any, lowered: dict[str, Any], method: str, used_bulk_ids: set[str]
) -> str | None:
    """Refuse a malformed operation; note its bulkId; its version (an ETag) if any."""
    bulk_id = lowered.get("bulkid")
    if not isinstance(op, dict) or not isinstance(lowered.get("path"), str):
        raise InvalidSyntax(f"Operations[{index}] needs a method and a path.")
    if method == "POST" and not isinstance(bulk_id, str):
        raise InvalidSyntax(f"Operations[{index}]: POST needs a bulkId.")
    if isinstance(bulk_id, str):
        # Unique within the request (RFC 7644 §3.7): a repeat would silently
        # re-point every later "bulkId:" reference at another resource.
        if bulk_id in used_bulk_ids:
            raise ValidationFailed(f"bulkId {bulk_id!r} is used by an earlier operation.")
        used_bulk_ids.add(bulk_id)
    version = lowered.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidSyntax(f"Operations[{index}].version must be an ETag string.")
    return version


def _done(
    entry: dict[str, Any], result: Result, bulk_id: Any, created: dict[str, str]
) -> dict[str, Any]:
    if result.location:
        entry["location"] = result.location
        if isinstance(bulk_id, str) and result.body:
            created[bulk_id] = str(result.body["id"])
    elif result.body and "meta" in result.body:
        entry["location"] = result.body["meta"].get("location")
    if result.etag:
        entry["version"] = result.etag
    entry["status"] = str(result.status)
    return entry
