"""The persona editor's preview at company scale (run by hand; never part of the suite).

    .venv/bin/python bench/personas_preview_bench.py [--users 50000]

Seeds the dedicated database of bench/personas_bench.py (BENCH_DATABASE_URL, dropped
and re-created) with the same users, evaluates its personas once, then times the
preview (personas.selectors_preview) of edited rules that move many people in or out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import personas_bench, scim_setup

EDITS = {
    "engineering": {
        "all": [
            {"attr": "roles", "op": "contains", "value": "engineering"},
            {"attr": "custom.persona", "op": "eq", "value": "Engineer"},
        ]
    },
    "new-hires": {"attr": "hire_date", "op": "within_days", "value": 365},
    "remote-sales": {"attr": "custom.badges", "op": "contains", "value": "remote"},
    "managers-reports": {"attr": "department", "op": "in", "value": ["Sales", "Ops"]},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    scim_setup.DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
    scim_setup.SERVER_ENV["DATABASE_URL"] = scim_setup.DATABASE_URL
    scim_setup.recreate_database()
    scim_setup.setup_django()

    from django.db import connection

    from personas.selectors_preview import persona_rule_preview
    from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
    from users.services import Actor

    print(f"load average at the start: {os.getloadavg()}")
    personas_bench.seed(args.users)
    actor = Actor.system("bench")
    print(
        "| edited persona | would join | would leave | preview (median) |\n| --- | --- | --- | --- |"
    )
    for slug, rule in personas_bench.RULES.items():
        space_upsert(slug=slug, name=slug, actor=actor)
        persona, _ = persona_upsert(
            slug=slug, name=slug, rule=rule, spaces=[SpaceGrant(space=slug, role="member")],
            actor=actor, schedule_evaluation=False,
        )  # fmt: skip
        persona_evaluate(persona=persona, actor=actor)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        samples = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            preview = persona_rule_preview(rule=EDITS[slug], persona_id=persona.pk)
            samples.append(time.perf_counter() - started)
        print(
            f"| {slug} | {preview.joining.count} | {preview.leaving.count} |"
            f" {statistics.median(samples) * 1000:.0f} ms |"
        )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
