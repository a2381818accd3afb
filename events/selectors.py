"""Reading the events feed: keyset pages in commit order."""

from __future__ import annotations

from collections.abc import Sequence

from events.models import Event


def events_page(*, after: int, types: Sequence[str], limit: int) -> tuple[list[Event], int]:
    """Up to `limit` events past position `after` (of `types`, if any), and the cursor
    to continue from. One index range scan, whatever the table's size."""
    events = Event.objects.filter(position__gt=after)
    if types:
        events = events.filter(type__in=list(types))
    page = list(events.order_by("position")[:limit])
    return page, (page[-1].position or after) if page else after
