"""Our database backend (ENGINE "axero_idp.db", see base.py) and its write-behind API.

Write-behind removes the round trip of a statement whose result nobody in the request
reads: inside a transaction it is rendered now and sent in front of the next statement
on the same connection (the SAVEPOINT, RELEASE or ROLLBACK TO of an inner atomic
block, the next query, or the COMMIT), so it runs in the same order and the same
transaction as if it had been sent at once:

- a queued row written inside an inner atomic block that rolls back is rolled back with
  it (it rides in front of the ROLLBACK TO SAVEPOINT); a full rollback drops the queue;
- outside a transaction (autocommit) the statement runs at once;
- its error (a bad value, a check constraint) surfaces on the statement it rode with,
  not on the write_behind call. So only append-only INSERTs of rows that no unique
  constraint or conflict can refuse belong here (audit events, persona marks, outbox
  rows); the caller must not need their ids, rowcount or RETURNING.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.sql import InsertQuery

from axero_idp.db.base import DatabaseWrapper


def write_behind(sql: str, params: Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run one append-only INSERT with the next statement on the connection (see the
    module's docstring for what may be queued); at once outside a transaction."""
    cast(DatabaseWrapper, connections[using]).write_behind(sql, params)


# The ORM's one-row INSERT text per (model, columns), split at VALUES: compiled once,
# since only the values change.
_insert_sql: dict[tuple[type[models.Model], tuple[str, ...]], tuple[str, str]] = {}
# PostgreSQL's bind parameters are bounded: one statement per this many rows.
BEHIND_BATCH: Final = 1000


def insert_statement(
    instances: Sequence[models.Model], *, using: str = DEFAULT_DB_ALIAS
) -> tuple[str, list[Any]]:
    """The ORM's INSERT of these new instances of one model, without RETURNING, and its
    parameters, each value bound as save() binds it (the field's pre_save, then
    get_db_prep_save). For write-behind, and for a data-modifying CTE the ORM cannot
    write (rawsql.insert_of). An expression value (F(), a database default) is refused:
    save() handles those."""
    model = type(instances[0])
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{meta.label}: multi-table inheritance needs save()")
    fields = [
        f
        for f in meta.local_concrete_fields
        if not f.generated and not (f is meta.auto_field and instances[0].pk is None)
    ]
    connection = connections[using]
    params = []
    for instance in instances:
        for field in fields:
            value = field.pre_save(instance, True)
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{meta.label}.{field.name}: an expression; use save()")
            params.append(field.get_db_prep_save(value, connection=connection))
    key = (model, tuple(f.attname for f in fields))
    compiled = _insert_sql.get(key)
    if compiled is None:
        query = InsertQuery(model)
        query.insert_values(fields, list(instances[:1]))
        [(sql, _)] = query.get_compiler(connection=connection).as_sql()
        head, _, row = sql.partition(" VALUES ")
        compiled = _insert_sql[key] = (head, row)
    head, row = compiled
    return f"{head} VALUES {', '.join([row] * len(instances))}", params


def insert_behind(instance: models.Model, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Write one new row of an append-only model with the next statement: the same
    INSERT as instance.save(force_insert=True), without RETURNING, so the instance gets
    no primary key. No model signal is sent (the project uses none)."""
    write_behind(*insert_statement([instance], using=using), using=using)


def insert_many_behind(instances: Sequence[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """insert_behind for several new rows of one model: what bulk_create would insert,
    in one multi-row INSERT per BEHIND_BATCH rows, without their primary keys."""
    for start in range(0, len(instances), BEHIND_BATCH):
        batch = instances[start : start + BEHIND_BATCH]
        write_behind(*insert_statement(batch, using=using), using=using)
