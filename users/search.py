"""The people search's text: one expression, spelled once, that both the trigram index
(migration 0010) and the search query (users.selectors.people_search) use, so the
query planner recognises the index."""

from __future__ import annotations

from typing import Any, Final

from django.db.models import Func, TextField

# The columns a search looks in. All are NOT NULL, so `||` never yields NULL.
SEARCH_COLUMNS: Final = ("display_name", "first_name", "last_name", "email", "title", "department")
INDEX_NAME: Final = "users_user_search_trgm"


def search_sql(alias: str = "") -> str:
    """lower(a || ' ' || b ...): IMMUTABLE, as an index expression must be (concat() is
    not). With an alias, the columns are qualified (PostgreSQL compares the parsed
    expressions, so a qualified query still matches the unqualified index)."""
    prefix = f"{alias}." if alias else ""
    return "lower(" + " || ' ' || ".join(f'{prefix}"{c}"' for c in SEARCH_COLUMNS) + ")"


class PeopleSearchText(Func):
    """The lower-cased name, email, title and department of a user, as one text."""

    output_field = TextField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        return search_sql(connection.ops.quote_name(compiler.query.get_initial_alias())), []
