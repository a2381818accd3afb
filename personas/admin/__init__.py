"""Django admin for spaces, personas and memberships; every write goes through services."""

from personas.admin import personas, spaces

__all__ = ["personas", "spaces"]
