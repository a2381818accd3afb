"""The deployment files tell the truth: every environment variable the product reads is
in .env.example and the README, and docker-compose.yml starts the app only after its
migrations, with a health check on every long-running service. (CI's smoke stage runs
the compose file's own commands: tests/tools/smoke.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
READERS = ["axero_idp/settings.py", "gunicorn.conf.py"]
READ = re.compile(r"""(?:env(?:\.\w+)?|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "WEB_PORT"}


def _variables_read() -> set[str]:
    return {name for path in READERS for name in READ.findall((ROOT / path).read_text())}


def _example_variables() -> set[str]:
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def test_every_variable_the_product_reads_is_in_env_example_and_the_readme():
    read = _variables_read()
    readme = (ROOT / "README.md").read_text()

    assert len(read) > 20
    assert sorted(read - _example_variables()) == []
    assert sorted(name for name in read if f"`{name}`" not in readme) == []


def test_env_example_lists_nothing_the_product_does_not_read():
    assert sorted(_example_variables() - _variables_read() - COMPOSE_ONLY) == []


def test_compose_runs_migrations_once_before_web_worker_and_beat():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    assert services["migrate"]["command"] == "python manage.py migrate --no-input"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert "migrate" not in services[name]["command"]
    assert sorted(name for name, s in services.items() if "healthcheck" not in s) == ["migrate"]
    assert services["web"]["volumes"] == services["worker"]["volumes"]
    assert "media:/app/var/media" in services["web"]["volumes"]
