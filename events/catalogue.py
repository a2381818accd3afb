"""The event types of the feed and of webhooks: the one list."""

from __future__ import annotations

from typing import Final

USER_CREATED: Final = "user.created"
USER_UPDATED: Final = "user.updated"
USER_DEACTIVATED: Final = "user.deactivated"
USER_REACTIVATED: Final = "user.reactivated"
USER_DELETED: Final = "user.deleted"
ROLE_MEMBERS_CHANGED: Final = "role.members_changed"
SPACE_MEMBER_ADDED: Final = "space.member_added"
SPACE_MEMBER_REMOVED: Final = "space.member_removed"
USER_IMAGE_CHANGED: Final = "user.image_changed"

EVENT_TYPES: Final = (
    USER_CREATED,
    USER_UPDATED,
    USER_DEACTIVATED,
    USER_REACTIVATED,
    USER_DELETED,
    ROLE_MEMBERS_CHANGED,
    SPACE_MEMBER_ADDED,
    SPACE_MEMBER_REMOVED,
    USER_IMAGE_CHANGED,
)
# Sent by "send test event"; never in the outbox.
WEBHOOK_TEST: Final = "webhook.test"


def event_types_clean(value: str | list[str] | None) -> list[str]:
    """A comma-separated list (or a list) of known types; empty means all."""
    from axero_idp.errors import ValidationFailed

    names = value.split(",") if isinstance(value, str) else list(value or [])
    names = [n.strip() for n in names if n and n.strip()]
    unknown = sorted(set(names) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            f"events: unknown type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return sorted(set(names))
