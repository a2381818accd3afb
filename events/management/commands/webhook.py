"""`manage.py webhook add --url URL [--events TYPE,...] [--batch] | list`: webhook
endpoints; `add` prints the signing secret (whsec_...) alone on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from events.models import WebhookEndpoint
from events.webhooks import webhook_endpoint_add
from users.services import Actor


class Command(BaseCommand):
    help = "Add or list webhook endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add an endpoint and print its secret once")
        add.add_argument("--url", required=True)
        add.add_argument("--events", default="", help="comma-separated types (default: all)")
        add.add_argument("--batch", action="store_true", help="up to 100 events per request")
        sub.add_parser("list", help="list endpoints")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("manage.py webhook")
        try:
            if options["action"] == "add":
                endpoint, secret = webhook_endpoint_add(
                    url=options["url"],
                    event_types=options["events"],
                    batch=options["batch"],
                    actor=actor,
                )
                self.stdout.write(
                    f"Added webhook endpoint {endpoint.pk} for {endpoint.url}. Its signing "
                    "secret is shown once; store it in the receiver now:"
                )
                self.stdout.write(secret)
            else:
                for endpoint in WebhookEndpoint.objects.order_by("pk"):
                    state = (
                        "active" if endpoint.active else f"disabled ({endpoint.disabled_reason})"
                    )
                    types = ",".join(endpoint.event_types) or "all"
                    self.stdout.write(f"{endpoint.pk:<6} {state:<30} {types:<40} {endpoint.url}")
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
