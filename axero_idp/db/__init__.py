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
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.sql import InsertQuery

from axero_idp.db.base import DatabaseWrapper


def write_behind(sql: str, params: Sequence[Any] = (), *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run one append-only INSERT with the next statement on the connection (see the
    module's docstring for what may be queued); at once outside a transaction."""
    cast(DatabaseWrapper, connections[using]).write_behind(sql, params)


# The ORM's INSERT text per (model, columns): compiled once, since only values change.
_insert_sql: dict[tuple[type[models.Model], tuple[str, ...]], str] = {}


def insert_behind(instance: models.Model, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Write one new row of an append-only model with the next statement: the same
    INSERT as instance.save(force_insert=True), without RETURNING, so the instance gets
    no primary key. No model signal is sent (the project uses none)."""
    meta = instance._meta
    fields = [
        f
        for f in meta.local_concrete_fields
        if not f.generated and not (f is meta.auto_field and instance.pk is None)
    ]
    connection = connections[using]
    params = []
    for field in fields:
        value = field.pre_save(instance, True)
        if hasattr(value, "resolve_expression"):
            raise ValueError(f"{meta.label}.{field.name}: an expression cannot be written behind")
        params.append(field.get_db_prep_save(value, connection=connection))
    key = (type(instance), tuple(f.attname for f in fields))
    sql = _insert_sql.get(key)
    if sql is None:
        query = InsertQuery(type(instance))
        query.insert_values(fields, [instance])
        [(sql, _)] = query.get_compiler(connection=connection).as_sql()
        _insert_sql[key] = sql
    write_behind(sql, params, using=using)
