"""WSGI entry point: `gunicorn axero_idp.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "axero_idp.settings")

application = get_wsgi_application()
