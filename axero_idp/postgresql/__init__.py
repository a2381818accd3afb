"""Django's PostgreSQL backend with a health check that skips its round trip on a
connection in steady use (axero_idp.postgresql.base)."""
