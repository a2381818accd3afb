"""What every directory admin shares."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from axero_idp.errors import ApplicationError


class ServiceErrorsAsMessages:
    """A service that refuses a save after the form validated (a lost uniqueness race,
    say) rolls the admin's transaction back; show its reason as a message, never a 500."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        except ApplicationError as exc:
            self.message_user(request, exc.detail, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyAdmin:
    """Records written only by services (audit trail, stored images): admins look, never
    add, change or delete through the generic forms."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
