import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_readyz_reports_database_and_broker_ok(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("fail: ConnectionError")


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_the_database_when_it_is_down(client, monkeypatch):

    connection.close()
    # Point the connection at a port where no PostgreSQL listens.
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    response = client.get("/readyz")
    connection.close()
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "fail: OperationalError"
    assert response.json()["checks"]["broker"] == "ok"


def test_a_client_request_id_is_ignored_by_default(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234567890abcdef")
    assert response["X-Request-ID"] != "lb-1234567890abcdef"
    assert len(response["X-Request-ID"]) == 32


def test_request_id_from_a_trusted_proxy_is_kept_when_it_is_a_plain_token(client, settings):
    settings.TRUST_REQUEST_ID_HEADER = True
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234567890abcdef")
    assert response["X-Request-ID"] == "lb-1234567890abcdef"


def test_request_id_with_free_text_is_replaced(client, settings):
    settings.TRUST_REQUEST_ID_HEADER = True
    response = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert response["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(response["X-Request-ID"]) == 32


def test_server_error_page_shows_a_reference_not_the_exception(rf):
    from axero_idp.views import server_error

    request = rf.get("/somewhere")
    request.request_id = "ref-1234567890"
    response = server_error(request)
    assert response.status_code == 500
    assert b"ref-1234567890" in response.content
    assert b"Traceback" not in response.content


def _settings_under(env_overrides):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "SECRET_KEY": "x", **env_overrides}
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps({k: getattr(settings, k, None) for k in "
        "['SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE','SECURE_SSL_REDIRECT','SECURE_HSTS_SECONDS','SECURE_PROXY_SSL_HEADER']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_https_site_url_with_debug_off_turns_on_transport_security():
    values = _settings_under({"DEBUG": "false", "SITE_URL": "https://intranet.example.com"})
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_http_site_url_serves_plain_http_even_with_debug_off():
    values = _settings_under({"DEBUG": "false", "SITE_URL": "http://127.0.0.1:8000"})
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
