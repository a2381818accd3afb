"""Django admin for the directory; each model's admin writes through users.services."""

from users.admin import audit, custom_fields, roles, unmapped, users

__all__ = ["audit", "custom_fields", "roles", "unmapped", "users"]
