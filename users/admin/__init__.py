"""Django admin for the directory; each model's admin writes through users.services."""

# The audit trail's admin names targets from every app: axero_idp.console.audit.
from users.admin import custom_fields, roles, unmapped, users

__all__ = ["custom_fields", "roles", "unmapped", "users"]
