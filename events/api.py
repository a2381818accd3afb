"""GET /api/v1/events/: the directory's events in commit order, for an events token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from axero_idp.errors import ValidationFailed
from events.catalogue import event_types_clean
from events.delivery import event_payload
from events.selectors import events_page
from events.sequencing import events_stamp
from events.tokens import events_token_authenticate
from users.selectors import LazyCustomFields

if TYPE_CHECKING:
    from rest_framework.views import APIView

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
DIGITS: Final = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class EventsPrincipal:
    """request.user when an events token authenticated the call (the feed only)."""

    token_name: str
    pk: None = None
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    is_anonymous: bool = False

    @property
    def is_authenticated(self) -> bool:
        return True


class EventsTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[EventsPrincipal, Any] | None:
        token = events_token_authenticate(request.headers.get("Authorization"))
        if token is None:
            raise AuthenticationFailed("an events token is required")
        return EventsPrincipal(token.name), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="axero-idp events"'


class IsEventsToken(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, EventsPrincipal)


def _page_args(request: Request) -> tuple[int, list[str], int]:
    after = request.query_params.get("after") or "0"
    limit = request.query_params.get("limit") or str(DEFAULT_LIMIT)
    if not DIGITS.fullmatch(after):
        raise ValidationFailed("after: expected the next_cursor of an earlier page")
    if not DIGITS.fullmatch(limit) or not 1 <= int(limit) <= MAX_LIMIT:
        raise ValidationFailed(f"limit: expected a whole number from 1 to {MAX_LIMIT}")
    types = event_types_clean(request.query_params.get("types", ""))
    return int(after), types, int(limit)


@api_view(["GET"])
@authentication_classes([EventsTokenAuthentication])
@permission_classes([IsEventsToken])
def events_feed(request: Request) -> Response:
    """A page of events past `after`; `next_cursor` is where the next page starts."""
    after, types, limit = _page_args(request)
    # Events committed since the last sequencer run get their position first (unless a
    # sequencer is at work: then this page is one run behind).
    events_stamp(wait=False)
    page, cursor = events_page(after=after, types=types, limit=limit)
    custom_fields = LazyCustomFields()
    data = [event_payload(e, custom_fields) for e in page]
    return Response({"data": data, "next_cursor": str(cursor)})
