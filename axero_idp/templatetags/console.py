"""`{% console_dashboard as dashboard %}`: the admin index's dashboard (staff only)."""

from __future__ import annotations

from typing import Any

from django import template

from axero_idp.console.dashboard import Dashboard, dashboard_read

register = template.Library()


@register.simple_tag(takes_context=True)
def console_dashboard(context: dict[str, Any]) -> Dashboard | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    # Who may read the audit trail may read its summary (token names, refusals).
    if user is None or not user.is_staff or not user.has_perm("users.view_auditevent"):
        return None
    return dashboard_read()
