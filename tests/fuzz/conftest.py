"""The SCIM client fixtures of tests/scim/, for the fuzz tests."""

from tests.scim.conftest import scim, scim_token

__all__ = ["scim", "scim_token"]
