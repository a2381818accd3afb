"""`manage.py personas import PATH` and `manage.py personas evaluate` (INTERFACES.md §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from axero_idp.errors import ApplicationError
from personas.models import Persona
from personas.services import EvaluationResult, persona_evaluate, personas_import
from users.services import Actor

# A personas file is a few hundred entries; anything near this is a mistake or an attack.
MAX_FILE_BYTES: Final = 8 * 1024 * 1024


def _refuse_constant(name: str) -> NoReturn:
    # json accepts NaN and Infinity by default; they are not JSON and jsonb refuses them.
    raise ValueError(f"{name} is not a JSON number")


class Command(BaseCommand):
    help = "Import spaces and personas from a JSON file, or re-evaluate every persona."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="create or update spaces and personas, then evaluate")
        imp.add_argument("path")
        sub.add_parser("evaluate", help="re-evaluate every persona now")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("manage.py personas")
        try:
            if options["action"] == "import":
                self._import(options["path"], actor)
            else:
                for persona in Persona.objects.order_by("slug"):
                    self._report(persona_evaluate(persona=persona, actor=actor))
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc

    def _import(self, path: str, actor: Actor) -> None:
        try:
            if Path(path).stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not a JSON file ({exc})") from exc
        try:
            document = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise CommandError(f"{path}: not a JSON file (nested too deeply)") from None
        except ValueError as exc:  # json.JSONDecodeError, or a refused constant
            raise CommandError(f"{path}: not a JSON file ({exc})") from exc
        summary = personas_import(document=document, actor=actor)
        for kind, counts in (("spaces", summary.spaces), ("personas", summary.personas)):
            parts = [f"{counts[s]} {s}" for s in ("created", "updated", "unchanged")]
            self.stdout.write(f"{kind}: {', '.join(parts)}")
        for result in summary.evaluations:
            self._report(result)

    def _report(self, result: EvaluationResult) -> None:
        self.stdout.write(f"{result.persona}: +{result.added} -{result.removed}")
