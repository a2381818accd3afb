"""SCIM endpoints: thin views over the resource handlers (scim/*_resources.py)."""
