"""`field__ci=value`: case-insensitive equality that the lower() indexes serve.

Django's `iexact` compiles to `UPPER(col) = UPPER(value)` on PostgreSQL, which cannot
use the functional indexes on `lower(username)`, `lower(email)` and
`lower(display_name)`: at 100,000 users that is a sequential scan per look-up.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Lookup


@CharField.register_lookup
class CaseInsensitiveExact(Lookup):  # type: ignore[type-arg]
    lookup_name = "ci"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs}) = LOWER({rhs})", (*lhs_params, *rhs_params)
