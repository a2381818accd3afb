"""The directory never imports its listeners (personas, media): it publishes events.

import-linter checks the protocol/domain contracts in `make lint`; this test holds the
line for apps that import-linter cannot name until they exist.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_personas_never_imports_the_events_outbox():
    offenders = {}
    for path in (ROOT / "personas").rglob("*.py"):
        bad = {name for name in _imported_modules(path) if name.split(".")[0] == "events"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_users_never_imports_personas_media_or_protocol_apps():
    offenders = {}
    for path in (ROOT / "users").rglob("*.py"):
        bad = {
            name
            for name in _imported_modules(path)
            if name.split(".")[0] in {"personas", "media", "events", "sso", "scim"}
        }
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


@pytest.mark.parametrize("app", ["media", "personas", "events"])
def test_domain_listeners_never_import_protocol_apps(app):
    offenders = {}
    for path in (ROOT / app).rglob("*.py"):
        bad = {name for name in _imported_modules(path) if name.split(".")[0] in {"sso", "scim"}}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


@pytest.mark.parametrize("app", ["axero_idp", "users", "sso", "scim", "media", "personas"])
def test_no_app_imports_the_employee_pages(app):
    offenders = {}
    for path in (ROOT / app).rglob("*.py"):
        bad = {name for name in _imported_modules(path) if name.split(".")[0] == "portal"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_employee_pages_never_import_scim():
    offenders = {}
    for path in (ROOT / "portal").rglob("*.py"):
        bad = {name for name in _imported_modules(path) if name.split(".")[0] == "scim"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}
