"""`manage.py dev_idp`: a development identity provider on 127.0.0.1, registered as a
connection, so "Sign in with SSO" works on a fresh `make run` machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sso.dev_idp import DevIdp, dev_idp_server
from sso.services import idp_import
from users.services import Actor


class Command(BaseCommand):
    help = "Serve a development SAML identity provider on 127.0.0.1 (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--slug", default="dev-idp", help="the connection's slug")
        parser.add_argument(
            "--no-register",
            action="store_true",
            help="do not import its metadata (paste it on admin's Connections page instead)",
        )
        parser.add_argument(
            "--print-metadata", action="store_true", help="print the metadata and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "dev_idp signs anyone in as its sample people: it runs only with DEBUG on "
                "(make run), never in production."
            )
        idp = DevIdp.with_keys_in(
            Path(settings.VAR_DIR) / "dev_idp",
            base_url=f"http://127.0.0.1:{options['port']}",
            slug=options["slug"],
        )
        if options["print_metadata"]:
            self.stdout.write(idp.metadata_xml())
            return
        if not options["no_register"]:
            idp_import(
                slug=idp.slug,
                metadata_xml=idp.metadata_xml().encode(),
                actor=Actor.system("dev_idp"),
            )
        self._serve(idp, options["port"])

    def _serve(self, idp: DevIdp, port: int) -> None:
        server = dev_idp_server(idp, port)
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(
            f"Development IdP on {idp.base_url} (metadata: {idp.entity_id}), connection "
            f"{idp.slug!r}.\nSign in at {site}/sso/{idp.slug}/login/ as one of: "
            + ", ".join(p.email for p in idp.people)
            + ".\nCtrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
