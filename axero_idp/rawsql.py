"""The one door for SQL written by hand (PostgreSQL only).

Policy (STYLE.md rule 16): the ORM is the default. A statement is written by hand only
when it is set-based (INSERT ... SELECT, a data-modifying CTE, one multi-row statement
that says which rows it skipped), when it removes a round trip the ORM cannot, or when
it is a read on every request of a hot path (every SCIM request's token lookup, every
create's pending-reports probe) where compiling the ORM's query costs more CPU than the
statement itself, measured at 0.3 ms or more. A single-row INSERT or UPDATE stays with
the ORM, whatever microseconds it would save, unless it carries another statement's
round trip (a provisioned user's INSERT carries the pending-reports probe; `insert_of`
binds its values as the ORM does).
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
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

from axero_idp import db

ModelT = TypeVar("ModelT", bound=models.Model)


def model_columns(model: type[models.Model], alias: str = "") -> str:
    """The quoted column list of every concrete field, for SELECTs whose rows become
    model instances through Model.objects.raw()."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(f.column or f.name) for f in model._meta.concrete_fields)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[models.Model], names: Iterable[str]) -> str:
    """The quoted columns of these fields of model, in the given order."""
    quote = connection.ops.quote_name
    column = {f.name: f.column or f.name for f in model._meta.concrete_fields}
    return ", ".join(quote(column[name]) for name in names)


def fetch_instance(model: type[ModelT], sql: str, params: Sequence[Any] = ()) -> ModelT | None:
    """The first row of a SELECT of `model_columns(model)`, as a model instance (or None).

    Model.objects.raw() builds the same instance for 70 us more CPU per call (it maps
    the cursor's columns to the model's fields and builds its iterators every time): the
    token lookup of every SCIM request cost 110 us of CPU through raw() and costs 40 us
    through this (in-process, 3,000 lookups of one token)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else model_from_row(model, row)


def fetch_instances(model: type[ModelT], sql: str, params: Sequence[Any] = ()) -> list[ModelT]:
    """Every row of a SELECT of `model_columns(model)`, as model instances (what
    fetch_instance does for one row; Model.objects.raw() costs ~70 us more per query)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [model_from_row(model, row) for row in rows]


def model_from_row(model: type[ModelT], row: Sequence[Any]) -> ModelT:
    """An instance of model from a row whose first columns are model_columns(model),
    each value converted as Model.objects.raw() converts it (JSON parsing and the like);
    later columns are the caller's (a join's extra columns). Without raw()'s per-call
    setup: 0.19 ms against 0.35 ms for a user row with its identity and manager columns,
    0.08 against 0.18 for an IdP (in process)."""
    names, converters = _instance_columns(model)
    values = list(row[: len(names)])
    for index, convert, column in converters:
        for converter in convert:
            values[index] = converter(values[index], column, connection)
    return model.from_db(connection.alias, names, values)


@functools.cache
def _instance_columns(
    model: type[models.Model],
) -> tuple[list[str], list[tuple[int, list[Any], Any]]]:
    """The attribute names of `model_columns(model)` in order, and the database
    converters of the columns that have any, as Model.objects.raw() applies them."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        convert = [
            *connection.ops.get_db_converters(column),
            *column.get_db_converters(connection),
        ]
        if convert:
            converters.append((index, convert, column))
    return [f.attname for f in fields], converters


def insert_of(obj: models.Model) -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<columns>) VALUES (%s, ...)` of one new instance and its
    parameters, as the ORM compiles and binds them (axero_idp.db.insert_statement), for
    a data-modifying CTE the ORM cannot write. After the statement ran, `saved(obj)`
    marks the instance as the ORM would."""
    return db.insert_statement([obj])


def saved(obj: models.Model) -> None:
    """The instance is now a row of the database (what save() records after its INSERT)."""
    obj._state.adding = False
    obj._state.db = connection.alias


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run one hand-written statement; how many rows it changed (or returned)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def write_behind(sql: str, params: Sequence[Any] = ()) -> None:
    """Run one hand-written append-only INSERT with the next statement of the
    transaction, in its round trip (axero_idp.db.write_behind says what may be queued:
    no unique constraint it could break, no rowcount or RETURNING read)."""
    db.write_behind(sql, params)


def fetch_all(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one hand-written statement that returns rows; every row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
