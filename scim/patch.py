"""PATCH (RFC 7644 §3.5.2) for users and groups.

A user PATCH is applied to the user's SCIM state in memory (a user has a handful of
small values), then the result is written with one service call, so the whole PATCH
is one change. A group PATCH never loads the member list: member operations become
set operations on the membership table (users.services.role_members_*). The caller
runs either inside one transaction, so a failing operation rolls back the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from axero_idp.errors import ValidationFailed
from scim.attributes import (
    EXTENSION_PREFIX,
    GROUP,
    USER,
    InvalidPath,
    attributes_of,
    schema_for_urn,
)
from scim.errors import InvalidSyntax, Mutability, NoTarget, TooManyOperations
from scim.filters.ast import Compare
from scim.parse import READ_ONLY, flatten, lowered_keys, multi_values
from scim.paths import Path, member_ids_selected, members_filter_q, parse_path, value_matches
from scim.queries import role_member_ids_matching
from users.models import CustomField, MembershipSource, Role
from users.services import (
    Actor,
    role_members_add,
    role_members_remove,
    role_members_replace,
    role_rename,
)
from users.services.values import CUSTOM_LIST_MAX_ITEMS, clean_external_id

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPS = ("add", "remove", "replace")
# Every group operation is a statement under the role's row lock: without a bound, one
# 1 MB body of 10,000 operations held the lock for ~20 s. IdPs send a handful (a
# member list goes in one operation's value), so this is far above real use.
MAX_PATCH_OPERATIONS: Final = 1000


@dataclass(frozen=True)
class Operation:
    op: str
    path: str | None
    value: Any


def operations(body: Mapping[str, Any]) -> list[Operation]:
    """The operations of a PatchOp body; `op` is case-insensitive (Entra sends "Add")."""
    raw = lowered_keys(body).get("operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntax("A PatchOp body needs a non-empty 'Operations' list.")
    if len(raw) > MAX_PATCH_OPERATIONS:
        raise TooManyOperations(
            f"{len(raw)} operations; at most {MAX_PATCH_OPERATIONS} per PATCH request."
        )
    ops = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSyntax(f"Operations[{index}] is not an object.")
        lowered = {str(k).lower(): v for k, v in item.items()}
        op = lowered.get("op")
        if not isinstance(op, str) or op.lower() not in OPS:
            raise InvalidSyntax(f"Operations[{index}].op must be add, remove or replace.")
        path = lowered.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidPath(f"Operations[{index}].path must be a string.")
        if op.lower() != "remove" and "value" not in lowered:
            raise InvalidSyntax(f"Operations[{index}] ({op}) needs a value.")
        ops.append(
            Operation(
                op.lower(), path.strip() if path and path.strip() else None, lowered.get("value")
            )
        )
    return ops


def _refuse_read_only(key: str) -> None:
    if key.split(".", 1)[0] in READ_ONLY:
        raise Mutability(f"Attribute {key!r} is read-only.")


# ---- users -------------------------------------------------------------------------


def user_patch_state(
    state: dict[str, Any],
    ops: list[Operation],
    *,
    custom_fields: Mapping[str, CustomField],
) -> dict[str, Any]:
    """The user's canonical state after the operations (the input is not changed)."""
    state = dict(state)
    for operation in ops:
        if operation.path is not None and schema_for_urn(USER, operation.path) is not None:
            _user_extension(state, operation, custom_fields)
        elif operation.path is None:
            _user_no_path(state, operation, custom_fields)
        else:
            path = parse_path(USER, operation.path, custom_fields=custom_fields)
            _refuse_read_only(path.attr)
            _user_path(state, path, operation)
    return state


def _user_extension(
    state: dict[str, Any], operation: Operation, custom_fields: Mapping[str, CustomField]
) -> None:
    """A path naming a whole schema ("urn:...:enterprise:2.0:User"): its attributes."""
    assert operation.path is not None
    schema = schema_for_urn(USER, operation.path)
    prefix = EXTENSION_PREFIX.get(schema or "", "")
    if operation.op == "remove":
        if not prefix:
            raise Mutability("The core schema cannot be removed.")
        for key in [k for k in state if k.startswith(prefix)]:
            state[key] = None
        return
    if not isinstance(operation.value, dict):
        raise ValidationFailed(f"{operation.path}: expected an object")
    wrapped = Operation(operation.op, None, {operation.path: operation.value})
    _user_no_path(state, wrapped, custom_fields)


def _user_no_path(
    state: dict[str, Any], operation: Operation, custom_fields: Mapping[str, CustomField]
) -> None:
    if operation.op == "remove":
        raise NoTarget("A remove operation needs a path.")
    if not isinstance(operation.value, dict):
        raise ValidationFailed("A PATCH operation without a path needs an object value.")
    for key, value in operation.value.items():
        if isinstance(key, str) and key.lower() == "id" and str(value) != state.get("id"):
            raise Mutability("Attribute 'id' is read-only and cannot change.")
    for key, value in flatten(USER, operation.value, custom_fields=custom_fields).items():
        if key == "id":
            continue  # checked above: the same id
        _refuse_read_only(key)
        _set(state, key, value, add=operation.op == "add")


def _set(state: dict[str, Any], key: str, value: Any, *, add: bool) -> None:
    spec = attributes_of(USER).get(key)
    multi = spec.multi_valued if spec else isinstance(state.get(key), list)
    if multi and add and key.startswith("axero:"):
        # A custom list field: add is a union (RFC 7644 §3.5.2.1).
        extra = _list_bounded(key, value if isinstance(value, list) else [value])
        state[key] = _list_union(key, list(state.get(key) or []), extra)
    elif multi and add and key in ("emails", "photos"):
        # The directory keeps one email and one photo (the primary one, else the first):
        # an added primary value takes over, others join behind the stored one.
        new, old = multi_values(value), multi_values(state.get(key))
        if any(_primary(item) for item in new):
            old = [{**item, "primary": False} for item in old]
        state[key] = old + new
    else:
        state[key] = value


def _list_field(key: str) -> str:
    return "custom." + key.removeprefix("axero:")


def _list_bounded(key: str, values: list[Any]) -> list[Any]:
    """Refuse an oversized list before any merging: a 291 KiB body of such adds cost
    seconds of CPU under the user's row lock when the bound was checked afterwards."""
    if len(values) > CUSTOM_LIST_MAX_ITEMS:
        raise ValidationFailed(f"{_list_field(key)}: more than {CUSTOM_LIST_MAX_ITEMS} values")
    return values


def _list_union(key: str, current: list[Any], extra: list[Any]) -> list[Any]:
    """`current` followed by the values of `extra` it lacks, at most the list bound."""
    try:
        seen = set(current)
        merged = list(current)
        for item in extra:
            if item not in seen:
                seen.add(item)
                merged.append(item)
    except TypeError as exc:  # an object or a list among the values
        raise ValidationFailed(f"{_list_field(key)}: expected a list of text values") from exc
    return _list_bounded(key, merged)


def _primary(item: dict[str, Any]) -> bool:
    return str(item.get("primary", "")).lower() == "true"


def _user_path(state: dict[str, Any], path: Path, operation: Operation) -> None:
    if path.attr.startswith("enterprise:manager."):
        # manager.value and manager.$ref both name the one manager: setting either
        # replaces the reference, removing either removes it.
        sub = path.attr.split(".", 1)[1]
        state["enterprise:manager"] = None if operation.op == "remove" else {sub: operation.value}
        return
    spec = attributes_of(USER).get(path.attr)
    multi = bool(spec and spec.multi_valued) or isinstance(state.get(path.attr), list)
    if path.attr == "name" and operation.op != "remove":
        if not isinstance(operation.value, dict):
            raise ValidationFailed("name: expected an object")
        for sub, value in operation.value.items():
            key = f"name.{str(sub).lower()}"
            if key in attributes_of(USER):
                state[key] = value
        return
    if path.attr == "name":
        for key in [k for k in state if k.startswith("name.")]:
            state[key] = None
        return
    if not multi or (path.value_filter is None and path.sub_attr is None):
        if operation.op == "remove" and path.attr in ("active", "username"):
            raise ValidationFailed(
                f"{path.attr} cannot be removed"
                + ("; replace it with false to deactivate." if path.attr == "active" else ".")
            )
        if operation.op == "remove":
            state[path.attr] = None
        else:
            _set(state, path.attr, operation.value, add=operation.op == "add")
        return
    items = multi_values(state.get(path.attr))
    selected = [
        i for i in items if path.value_filter is None or value_matches(path.value_filter, i)
    ]
    if operation.op == "remove":
        if path.sub_attr is None:
            items = [i for i in items if i not in selected]
        else:
            for item in selected:
                item.pop(path.sub_attr, None)
        state[path.attr] = [i for i in items if i.get("value") not in (None, "")]
        return
    if not selected:
        created = _item_from_filter(path)
        if created is None:
            raise NoTarget(f"No value of {path.attr!r} matches the path filter.")
        items.append(created)
        selected = [created]
    for item in selected:
        if path.sub_attr is None:
            if not isinstance(operation.value, dict):
                raise ValidationFailed(f"{path.attr}: expected an object")
            item.update(lowered_keys(operation.value))
        else:
            item[path.sub_attr] = operation.value
    state[path.attr] = items


def _item_from_filter(path: Path) -> dict[str, Any] | None:
    """Entra adds (and replaces) `emails[type eq "work"].value` on a user with no work
    email: the filter then describes the value to create."""
    node = path.value_filter
    if node is None:
        return {}
    if isinstance(node, Compare) and node.op == "eq" and node.attr == "type":
        return {"type": node.value}
    return None


# ---- groups ------------------------------------------------------------------------


def member_ids(value: Any) -> set[uuid.UUID]:
    ids = set()
    for item in multi_values(value):
        raw = item.get("value")
        try:
            ids.add(uuid.UUID(str(raw)))
        except ValueError as exc:
            raise ValidationFailed(f"members: {raw!r} is not a user id") from exc
    return ids


def group_patch(role: Role, ops: list[Operation], *, actor: Actor) -> Role:
    """Apply the operations to a role: renames through role_rename, members as set
    operations on the SCIM-granted memberships only."""
    source = MembershipSource.SCIM
    for operation in ops:
        if operation.path is None:
            if operation.op == "remove":
                raise NoTarget("A remove operation needs a path.")
            if not isinstance(operation.value, dict):
                raise ValidationFailed("A PATCH operation without a path needs an object value.")
            for name, value in operation.value.items():
                role = _group_set(role, str(name), None, value, operation.op, actor)
            continue
        path = parse_path(GROUP, operation.path)
        _refuse_read_only(path.attr)
        if path.attr != "members":
            if operation.op == "remove":
                if path.attr == "displayname":
                    raise ValidationFailed("displayName is required and cannot be removed.")
                role = role_rename(
                    role=role, actor=actor, display_name=role.display_name, external_id=None
                )
                continue
            role = _group_set(role, path.attr, path, operation.value, operation.op, actor)
            continue
        if operation.op == "remove":
            if path.value_filter is not None:
                selected = member_ids_selected(path.value_filter)
                if selected is not None:
                    ids = member_ids([{"value": v} for v in selected])
                else:
                    ids = role_member_ids_matching(
                        role, members_filter_q(path.value_filter), source
                    )
                role_members_remove(role=role, user_ids=ids, source=source, actor=actor)
            elif operation.value not in (None, ""):
                # Entra: path "members" with the values to remove. An empty list
                # removes none: reading it as "no value" would empty the group.
                role_members_remove(
                    role=role, user_ids=member_ids(operation.value), source=source, actor=actor
                )
            else:
                role_members_replace(role=role, user_ids=[], source=source, actor=actor)
        elif path.value_filter is not None and operation.op == "add":
            raise InvalidPath("add takes the plain path 'members'.")
        elif path.value_filter is not None:
            # RFC 7644 §3.5.2.3: the members the filter selects give way to the value;
            # a filter that selects none is noTarget, not a silent add.
            matched = role_member_ids_matching(role, members_filter_q(path.value_filter), source)
            if not matched:
                raise NoTarget("No member of the group matches the path filter.")
            replacements = member_ids(operation.value)
            role_members_remove(
                role=role, user_ids=matched - replacements, source=source, actor=actor
            )
            role_members_add(role=role, user_ids=replacements, source=source, actor=actor)
        elif operation.op == "add":
            role_members_add(
                role=role, user_ids=member_ids(operation.value), source=source, actor=actor
            )
        else:
            role_members_replace(
                role=role, user_ids=member_ids(operation.value), source=source, actor=actor
            )
    return role


def _group_set(role: Role, name: str, path: Path | None, value: Any, op: str, actor: Actor) -> Role:
    key = path.attr if path else name.lower()
    source = MembershipSource.SCIM
    if key == "id" and str(value) == str(role.pk):
        return role  # Okta repeats the id in a rename; only a different id is a change
    if key in ("id", "meta", "schemas"):
        raise Mutability(f"Attribute {name!r} is read-only.")
    if key == "displayname":
        if not isinstance(value, str):
            raise ValidationFailed("displayName: expected text")
        return role_rename(role=role, actor=actor, display_name=value)
    if key == "externalid":
        return role_rename(
            role=role,
            actor=actor,
            display_name=role.display_name,
            external_id=clean_external_id(value),
        )
    if key == "members":
        ids = member_ids(value)
        if op == "add":
            role_members_add(role=role, user_ids=ids, source=source, actor=actor)
        else:
            role_members_replace(role=role, user_ids=ids, source=source, actor=actor)
        return role
    # Unknown names in a no-path value are ignored, as in a resource body.
    return role
