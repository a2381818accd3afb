"""gunicorn settings, read automatically by `gunicorn axero_idp.wsgi` from this folder.

Threaded workers: a request spends much of its time waiting on PostgreSQL (a commit's
fsync above all), and threads let one worker overlap those waits. Every setting can be
overridden on the command line or by the environment variables below.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# SAML ACS posts and SCIM bodies are bounded by the app; keep gunicorn's own limits sane.
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
