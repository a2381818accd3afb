"""PATCH (RFC 7644 §3.5.2) for users and groups.

A user PATCH is applied to the user's SCIM state in memory (a user has a handful of
small values), then the result is written with one service call, so the whole PATCH
is one change. A group PATCH never loads the member list: member operations become
set operations on the membership table (users.services.role_members_*). The caller
runs either inside one transaction, so a failing operation rolls back the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
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
    return [_operation(index, item) for index, item in enumerate(raw)]


def _operation(index: int, item: Any) -> Operation:
    if not isinstance(item, dict):
        raise InvalidSyntax(f"Operations[{index}] is not an object.")
    lowered = {str(k).lower(): v for k, v in item.items()}
    op = lowered.get("op")
    if not isinstance(op, str) or op.lower() not in OPS:
        raise InvalidSyntax(f"Operations[{index}].op must be add, remove or replace.")
    path = _operation_path(index, lowered)
    if op.lower() != "remove" and "value" not in lowered:
        raise InvalidSyntax(f"Operations[{index}] ({op}) needs a value.")
    return Operation(op.lower(), path, lowered.get("value"))


def _operation_path(index: int, lowered: dict[str, Any]) -> str | None:
    path = lowered.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidPath(f"Operations[{index}].path must be a string.")
    return path.strip() or None if path else None


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
    if add and _multi_valued(state, key):
        if key.startswith("axero:"):
            # A custom list field: add is a union (RFC 7644 §3.5.2.1).
            extra = _list_bounded(key, value if isinstance(value, list) else [value])
            value = _list_union(key, list(state.get(key) or []), extra)
        elif key in ("emails", "photos"):
            value = _primary_add(state.get(key), value)
    state[key] = value


def _multi_valued(state: dict[str, Any], key: str) -> bool:
    spec = attributes_of(USER).get(key)
    return spec.multi_valued if spec else isinstance(state.get(key), list)


def _primary_add(current: Any, added: Any) -> list[dict[str, Any]]:
    """The directory keeps one email and one photo (the primary one, else the first):
    an added primary value takes over, others join behind the stored one."""
    new, old = multi_values(added), multi_values(current)
    if any(_primary(item) for item in new):
        old = [{**item, "primary": False} for item in old]
    return old + new


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


# A user operation with a path: one small handler per (op, kind of target).
_UserHandler = Callable[[dict[str, Any], Path, Operation], None]


def _user_path(state: dict[str, Any], path: Path, operation: Operation) -> None:
    _USER_HANDLERS[operation.op, _user_target(state, path)](state, path, operation)


def _user_target(state: dict[str, Any], path: Path) -> str:
    if path.attr.startswith("enterprise:manager."):
        return "manager"
    if path.attr == "name":
        return "name"
    spec = attributes_of(USER).get(path.attr)
    multi = bool(spec and spec.multi_valued) or isinstance(state.get(path.attr), list)
    selects = path.value_filter is not None or path.sub_attr is not None
    return "items" if multi and selects else "value"


def _manager_set(state: dict[str, Any], path: Path, operation: Operation) -> None:
    # manager.value and manager.$ref both name the one manager: setting either
    # replaces the reference, removing either removes it.
    state["enterprise:manager"] = {path.attr.split(".", 1)[1]: operation.value}


def _manager_remove(state: dict[str, Any], path: Path, operation: Operation) -> None:
    state["enterprise:manager"] = None


def _name_set(state: dict[str, Any], path: Path, operation: Operation) -> None:
    if not isinstance(operation.value, dict):
        raise ValidationFailed("name: expected an object")
    for sub, value in operation.value.items():
        key = f"name.{str(sub).lower()}"
        if key in attributes_of(USER):
            state[key] = value


def _name_remove(state: dict[str, Any], path: Path, operation: Operation) -> None:
    for key in [k for k in state if k.startswith("name.")]:
        state[key] = None


def _value_set(state: dict[str, Any], path: Path, operation: Operation) -> None:
    _set(state, path.attr, operation.value, add=operation.op == "add")


def _value_remove(state: dict[str, Any], path: Path, operation: Operation) -> None:
    if path.attr == "active":
        raise ValidationFailed("active cannot be removed; replace it with false to deactivate.")
    if path.attr == "username":
        raise ValidationFailed("username cannot be removed.")
    state[path.attr] = None


def _selected(items: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    if path.value_filter is None:
        return items
    return [item for item in items if value_matches(path.value_filter, item)]


def _items_remove(state: dict[str, Any], path: Path, operation: Operation) -> None:
    items = multi_values(state.get(path.attr))
    selected = _selected(items, path)
    if path.sub_attr is None:
        items = [i for i in items if i not in selected]
    else:
        for item in selected:
            item.pop(path.sub_attr, None)
    state[path.attr] = [i for i in items if i.get("value") not in (None, "")]


def _items_set(state: dict[str, Any], path: Path, operation: Operation) -> None:
    items = multi_values(state.get(path.attr))
    selected = _selected(items, path)
    if not selected:
        created = _item_from_filter(path)
        if created is None:
            raise NoTarget(f"No value of {path.attr!r} matches the path filter.")
        items.append(created)
        selected = [created]
    for item in selected:
        if path.sub_attr is not None:
            item[path.sub_attr] = operation.value
        elif isinstance(operation.value, dict):
            item.update(lowered_keys(operation.value))
        else:
            raise ValidationFailed(f"{path.attr}: expected an object")
    state[path.attr] = items


_USER_HANDLERS: Final[dict[tuple[str, str], _UserHandler]] = {
    ("add", "manager"): _manager_set,
    ("replace", "manager"): _manager_set,
    ("remove", "manager"): _manager_remove,
    ("add", "name"): _name_set,
    ("replace", "name"): _name_set,
    ("remove", "name"): _name_remove,
    ("add", "value"): _value_set,
    ("replace", "value"): _value_set,
    ("remove", "value"): _value_remove,
    ("add", "items"): _items_set,
    ("replace", "items"): _items_set,
    ("remove", "items"): _items_remove,
}


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
    for operation in ops:
        if operation.path is None:
            role = _group_no_path(role, operation, actor)
            continue
        path = parse_path(GROUP, operation.path)
        _refuse_read_only(path.attr)
        handler = _GROUP_HANDLERS[operation.op, _group_target(path)]
        role = handler(role, path, operation.value, actor)
    return role


_SCIM: Final = MembershipSource.SCIM
# A group operation with a path: one small handler per (op, kind of target).
_GroupHandler = Callable[[Role, Path, Any, Actor], Role]


def _group_target(path: Path) -> str:
    if path.attr != "members":
        return "attribute"
    return "members" if path.value_filter is None else "selected members"


def _group_no_path(role: Role, operation: Operation, actor: Actor) -> Role:
    if operation.op == "remove":
        raise NoTarget("A remove operation needs a path.")
    if not isinstance(operation.value, dict):
        raise ValidationFailed("A PATCH operation without a path needs an object value.")
    for name, value in operation.value.items():
        role = _group_set(role, str(name), value, operation.op, actor)
    return role


def _attribute_set(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    return _group_set(role, path.attr, value, "replace", actor)


def _attribute_add(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    return _group_set(role, path.attr, value, "add", actor)


def _attribute_remove(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    if path.attr == "displayname":
        raise ValidationFailed("displayName is required and cannot be removed.")
    return role_rename(role=role, actor=actor, display_name=role.display_name, external_id=None)


def _members_add(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    role_members_add(role=role, user_ids=member_ids(value), source=_SCIM, actor=actor)
    return role


def _members_replace(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    role_members_replace(role=role, user_ids=member_ids(value), source=_SCIM, actor=actor)
    return role


def _members_remove(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    if value in (None, ""):
        role_members_replace(role=role, user_ids=[], source=_SCIM, actor=actor)
    else:
        # Entra: path "members" with the values to remove. An empty list removes
        # none: reading it as "no value" would empty the group.
        role_members_remove(role=role, user_ids=member_ids(value), source=_SCIM, actor=actor)
    return role


def _selected_add_refused(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    raise InvalidPath("add takes the plain path 'members'.")


def _selected_replace(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    # RFC 7644 §3.5.2.3: the members the filter selects give way to the value; a
    # filter that selects none is noTarget, not a silent add.
    assert path.value_filter is not None
    matched = role_member_ids_matching(role, members_filter_q(path.value_filter), _SCIM)
    if not matched:
        raise NoTarget("No member of the group matches the path filter.")
    replacements = member_ids(value)
    role_members_remove(role=role, user_ids=matched - replacements, source=_SCIM, actor=actor)
    role_members_add(role=role, user_ids=replacements, source=_SCIM, actor=actor)
    return role


def _selected_remove(role: Role, path: Path, value: Any, actor: Actor) -> Role:
    assert path.value_filter is not None
    selected = member_ids_selected(path.value_filter)
    if selected is not None:
        ids = member_ids([{"value": v} for v in selected])
    else:
        ids = role_member_ids_matching(role, members_filter_q(path.value_filter), _SCIM)
    role_members_remove(role=role, user_ids=ids, source=_SCIM, actor=actor)
    return role


_GROUP_HANDLERS: Final[dict[tuple[str, str], _GroupHandler]] = {
    ("add", "attribute"): _attribute_add,
    ("replace", "attribute"): _attribute_set,
    ("remove", "attribute"): _attribute_remove,
    ("add", "members"): _members_add,
    ("replace", "members"): _members_replace,
    ("remove", "members"): _members_remove,
    ("add", "selected members"): _selected_add_refused,
    ("replace", "selected members"): _selected_replace,
    ("remove", "selected members"): _selected_remove,
}


def _group_set(role: Role, name: str, value: Any, op: str, actor: Actor) -> Role:
    """One attribute of a group from a no-path value or a path (add or replace)."""
    key = name.lower()
    if key == "id" and str(value) == str(role.pk):
        return role  # Okta repeats the id in a rename; only a different id is a change
    if key in ("id", "meta", "schemas"):
        raise Mutability(f"Attribute {name!r} is read-only.")
    if key == "displayname":
        if not isinstance(value, str):
            raise ValidationFailed("displayName: expected text")
        return role_rename(role=role, actor=actor, display_name=value)
    if key == "externalid":
        external_id = clean_external_id(value)
        return role_rename(
            role=role, actor=actor, display_name=role.display_name, external_id=external_id
        )
    if key == "members":
        setter = _members_add if op == "add" else _members_replace
        return setter(role, Path(attr="members"), value, actor)
    # Unknown names in a no-path value are ignored, as in a resource body.
    return role
