"""A django-scim2 SCIM server for bench/scim_create_bench.py: a separate minimal Django
project (startproject settings, a User with django-scim2's AbstractSCIMUserMixin, a
bearer token looked up by its SHA-256), run from its own venv (var/scim2-venv, made by
the bench script). Nothing of the product is imported, and nothing here audits, logs
requests or queues events: the floor a SCIM create is measured against."""
