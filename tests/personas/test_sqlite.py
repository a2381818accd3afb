"""`make run` uses SQLite with Celery in-process: personas must work there too."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rules_evaluation_and_import_work_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "SECRET_KEY": "sqlite-check",
        "DJANGO_SETTINGS_MODULE": "axero_idp.settings",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("sqlite_check.py"))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout.strip().splitlines()[-1:]) == (0, ["ok"]), (
        result.stderr[-3000:]
    )


def test_generated_rules_agree_with_the_reference_semantics_on_sqlite(tmp_path):
    # The same 400 generated rules as test_rule_property.py, on `make run`'s engine.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "sqlite-check",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(Path(__file__).with_name("test_rule_property.py")),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout.strip().splitlines()[-1:][0].split(" in ")[0]) == (
        0,
        "1 passed",
    ), result.stdout[-3000:]
