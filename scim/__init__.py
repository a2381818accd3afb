"""SCIM 2.0 server (RFC 7643/7644): translates the protocol into users.services calls."""
