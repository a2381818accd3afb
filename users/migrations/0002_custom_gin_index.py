"""A GIN index on users.custom for persona rules on PostgreSQL.

SQLite (the embedded `make run` database) has no GIN indexes, so this step only acts
on PostgreSQL. jsonb_path_ops serves the containment queries (custom @> {...}) that
persona rules compile to.
"""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS users_user_custom_gin "
            "ON users_user USING gin (custom jsonb_path_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS users_user_custom_gin")


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
