"""The one door for SQL written by hand (PostgreSQL only).

Policy (STYLE.md rule 16): the ORM is the default. A statement is written by hand only
when it is set-based (INSERT ... SELECT, a data-modifying CTE, one multi-row statement
that says which rows it skipped), when it removes a round trip the ORM cannot, or when
it is a read on every request of a hot path (every SCIM request's token lookup, every
create's pending-reports probe) where compiling the ORM's query costs more CPU than the
statement itself, measured at 0.3 ms or more. A single-row INSERT or UPDATE stays with
the ORM, whatever microseconds it would save.
Every hand-written statement

- runs through `execute` / `fetch_all` here (so a grep for `rawsql.` lists them all),
- names tables and columns from the models (`table`, `model_columns`, `columns`) and
  binds every value as a parameter,
- carries its measured gain over the ORM equivalent in a comment beside it
  (bench/rawsql_gains.py and, for sso/, bench/sso_rawsql_gains.py re-measure them), and
- has a query-count test beside its callers' tests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def model_columns(model: type[models.Model], alias: str = "") -> str:
    """The quoted column list of every concrete field, for SELECTs whose rows become
    model instances through Model.objects.raw()."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(f.column or f.name) for f in model._meta.concrete_fields)


@functools.cache
def _row_reader(
    model: type[models.Model],
) -> tuple[list[str], list[tuple[int, Callable[..., Any]]]]:
    fields = model._meta.concrete_fields
    converters = [
        (index, converter)
        for index, field in enumerate(fields)
        for converter in field.get_db_converters(connection)
    ]
    return [field.attname for field in fields], converters


def model_from_row(model: type[M], row: Sequence[Any]) -> M:
    """An instance of model from a row whose first columns are model_columns(model),
    each value converted as the ORM converts it (the fields' get_db_converters: JSON
    parsing and the like); later columns are the caller's. What objects.raw() does
    without its per-call setup, measured in process: 0.19 ms against 0.35 ms for a
    user row with its identity and manager columns, 0.08 against 0.18 for an IdP."""
    names, converters = _row_reader(model)
    values = list(row[: len(names)])
    for index, converter in converters:
        values[index] = converter(values[index], None, connection)
    return model.from_db(connection.alias, names, values)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[models.Model], names: Iterable[str]) -> str:
    """The quoted columns of these fields of model, in the given order."""
    quote = connection.ops.quote_name
    column = {f.name: f.column or f.name for f in model._meta.concrete_fields}
    return ", ".join(quote(column[name]) for name in names)


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run one hand-written statement; how many rows it changed (or returned)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def fetch_all(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one hand-written statement that returns rows; every row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
