"""The admin dashboard's notice of webhook endpoints that are off or failing."""

from __future__ import annotations

from django import template

from events.models import WebhookEndpoint

register = template.Library()


@register.simple_tag
def webhook_endpoints_in_trouble() -> list[WebhookEndpoint]:
    """Disabled endpoints, and those failing now (one small query: endpoints are few)."""
    troubled = WebhookEndpoint.objects.filter(active=False) | WebhookEndpoint.objects.exclude(
        failing_since=None
    )
    return list(troubled.order_by("pk")[:20])
