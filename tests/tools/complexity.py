"""Complexity gate for `make lint`: the product's code stays easy to read.

Fails when a function or method of the product (not tests, benchmarks or migrations) is at
radon grade D or worse, is longer than 60 lines, or when blocks at grade C or worse make up
2% or more of all blocks. Prints the offenders and the share, so a failing run says what to
split.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("axero_idp", "users", "sso", "scim", "media", "personas", "events", "portal")
MAX_LINES = 60
MAX_C_SHARE = 0.02


def _product_files() -> list[Path]:
    files = []
    for app in PRODUCT_APPS:
        files += [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _long_functions(path: Path, tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_LINES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    return found


def main() -> int:
    total = 0
    graded_c: list[str] = []
    failures: list[str] = []
    for path in _product_files():
        source = path.read_text()
        failures += _long_functions(path, ast.parse(source))
        # radon's blocks are the functions, the classes and their methods, each once.
        for block in cc_visit(source):
            total += 1
            rank = cc_rank(block.complexity)
            where = f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname}: {rank} ({block.complexity})"
            if rank >= "C":
                graded_c.append(where)
            if rank >= "D":
                failures.append(where)
    share = len(graded_c) / total if total else 0.0
    print(
        f"complexity: {len(graded_c)} of {total} blocks at grade C or worse ({share:.1%}, limit {MAX_C_SHARE:.0%})"
    )
    if share >= MAX_C_SHARE:
        failures.append(f"{share:.1%} of blocks at grade C or worse (limit {MAX_C_SHARE:.0%}):")
        failures += [f"  {line}" for line in graded_c]
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
