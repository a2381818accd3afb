"""Small helpers for the few statements written by hand on hot paths (each one says why
in a comment): names come from the models, values are always bound parameters."""

from __future__ import annotations

from django.db import connection, models


def model_columns(model: type[models.Model], alias: str = "") -> str:
    """The quoted column list of every concrete field, for SELECTs whose rows become
    model instances through Model.objects.raw()."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(f.column or f.name) for f in model._meta.concrete_fields)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)
