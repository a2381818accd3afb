"""A bare python3-saml SP for bench/saml_bench.py: a separate minimal Django project,
built the way python3-saml's demo-django is (its own settings and middleware, Django's
database sessions, contrib.auth), importing nothing from the product."""
