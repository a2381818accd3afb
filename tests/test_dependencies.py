"""The runtime lock says what runs: every distribution the product imports (or names in
its settings) is pinned, with hashes, in requirements.txt. The dev environment brings
in far more (pysaml2 pulls cryptography, for one), so a green suite alone would not
notice a missing runtime dependency; this test and CI's smoke stage do."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ["axero_idp", "users", "sso", "scim", "personas", "media", "events", "portal"]
ENTRY_FILES = ["manage.py", "gunicorn.conf.py"]
# What the Celery Redis transport and the settings reach without an import statement.
SETTINGS_NAMED = {
    "psycopg2": "the PostgreSQL engine of DATABASE_URL",
    "redis": "Celery's broker and the cache (REDIS_URL)",
    "gunicorn": "the production web server",
    "packaging": "kombu's Redis transport",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_names(path: Path) -> dict[str, str]:
    """Pinned distribution -> its whole entry (pin line and hash lines)."""
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", block)
        if match:
            entries[_normalise(match.group(1))] = block
    return entries


def _product_files() -> list[Path]:
    files = [ROOT / name for name in ENTRY_FILES]
    for package in PRODUCT:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return files


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _settings_modules() -> set[str]:
    """Top-level packages that the settings name by dotted path."""
    paths = [*settings.INSTALLED_APPS, *settings.MIDDLEWARE]
    paths += [store["BACKEND"] for store in settings.STORAGES.values()]
    paths += [cache["BACKEND"] for cache in settings.CACHES.values()]
    paths += [settings.DATABASES["default"]["ENGINE"]]
    return {path.split(".")[0] for path in paths}


def _third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in PRODUCT}


def test_every_module_the_product_imports_comes_from_the_runtime_lock():
    locked = _lock_names(ROOT / "requirements.txt")
    providers = packages_distributions()
    modules: set[str] = _settings_modules()
    for path in _product_files():
        modules |= _top_level_imports(path)

    missing = {}
    for module in sorted(_third_party(modules) | set(SETTINGS_NAMED)):
        distributions = providers.get(module)
        assert distributions, f"no installed distribution provides {module!r}"
        if not any(_normalise(d) in locked for d in distributions):
            missing[module] = distributions

    assert missing == {}, f"imported but not in requirements.txt: {missing}"


def test_every_runtime_pin_is_hashed_and_every_direct_dependency_is_pinned():
    locked = _lock_names(ROOT / "requirements.txt")
    direct = [
        _normalise(re.split(r"[\[=<>~! ]", line.strip())[0])
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    assert [name for name in direct if name not in locked] == []
    assert [name for name, entry in locked.items() if "--hash=sha256:" not in entry] == []


def test_the_dev_lock_runs_exactly_the_runtime_versions():
    runtime = _lock_names(ROOT / "requirements.txt")
    dev = _lock_names(ROOT / "requirements-dev.txt")

    def pin(entry: str) -> str:
        return entry.split()[0]

    assert {name: pin(dev.get(name, "absent")) for name in runtime} == {
        name: pin(entry) for name, entry in runtime.items()
    }
