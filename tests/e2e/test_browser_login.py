"""A real browser through an SP-initiated SAML login: headless Chromium, the app on
pytest-django's live server (http://localhost:PORT), and a small pysaml2 IdP served
by this test on http://127.0.0.1:PORT (a different site). The IdP's auto-posting form
is a cross-site POST, which carries no SameSite=Lax session cookie: the login can only
succeed through the SP's first-party hop. This is the test that proves it."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import urllib.request
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from sso.models import LoginFlow
from tests.conftest import ci_requires
from tests.sso.idp_peer import IdpPeer, KeyPair, post_form, post_form_html
from users.models import AuditEvent, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "onelogin"
EMAIL = "browser.user@example.com"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    ci_requires(names[0])
    raise AssertionError("unreachable")


class LoopbackIdp:
    """The IdP peer behind a tiny HTTP server: a sign-in form at /saml/sso that posts
    to /saml/authenticate, which answers with the auto-submitting SAMLResponse form."""

    def __init__(self, directory: Path, key: KeyPair) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        base = f"http://127.0.0.1:{self.server.server_address[1]}/saml"
        self.peer = IdpPeer(directory, entity_id=f"{base}/metadata", base_url=base, key=key)
        self.pending: dict[str, tuple[str, str | None]] = {}
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                return

            def _send(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if not self.path.startswith("/saml/sso?"):
                    self._send(404, "not found")  # the browser's /favicon.ico
                    return
                try:
                    seen = idp.peer.authn_request_read(
                        idp.peer.sso_url + "?" + self.path.split("?", 1)[1]
                    )
                    assert seen.signed, "unsigned AuthnRequest"
                except Exception as exc:  # reported by the test, never a hang
                    idp.errors.append(f"AuthnRequest: {exc!r}")
                    self._send(400, "bad request")
                    return
                ticket = seen.id
                idp.pending[ticket] = (seen.id, seen.relay_state)
                self._send(
                    200,
                    "<!DOCTYPE html><html><body><h1>Loopback IdP</h1>"
                    '<form method="post" action="/saml/authenticate">'
                    f'<input type="hidden" name="ticket" value="{escape(ticket)}"/>'
                    '<label>Email <input id="email" name="email" type="email"/></label>'
                    '<button id="sign-in" type="submit">Sign in</button></form></body></html>',
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                request_id, relay_state = idp.pending.pop(form.get("ticket", ""), ("", None))
                if not request_id:
                    self._send(400, "unknown ticket")
                    return
                email = form.get("email", "")
                xml = idp.peer.response_xml(
                    name_id=email,
                    in_response_to=request_id,
                    attributes={
                        "User.email": email,
                        "User.FirstName": "Brow",
                        "User.LastName": "Ser",
                        "memberOf": ["Engineering", "Staff"],
                    },
                )
                assert idp.peer.sp is not None
                self._send(200, post_form_html(idp.peer.sp.acs_url, post_form(xml, relay_state)))

        return Handler

    def __enter__(self) -> LoopbackIdp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _requests_sent(driver) -> list[tuple[str, str, str]]:
    """(url, method, Cookie header) of every request Chromium sent (DevTools log; read
    once: reading drains it).

    A redirect keeps its navigation's requestId, so each requestId's hops are paired in
    order with their requestWillBeSentExtraInfo events (one per hop, same order)."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    hops: dict[str, list[tuple[str, str]]] = {}
    extras: dict[str, list[str]] = {}
    for event in events:
        params = event["params"]
        if event["method"] == "Network.requestWillBeSent":
            request = params["request"]
            hops.setdefault(params["requestId"], []).append((request["url"], request["method"]))
        elif event["method"] == "Network.requestWillBeSentExtraInfo":
            headers = {k.lower(): v for k, v in params["headers"].items()}
            extras.setdefault(params["requestId"], []).append(headers.get("cookie", ""))
    return [
        (url, verb, cookie)
        for request_id, requests in hops.items()
        for (url, verb), cookie in zip(requests, extras.get(request_id, []), strict=False)
    ]


def _cookies_sent(sent: list[tuple[str, str, str]], path: str, method: str) -> list[str]:
    cookies = [
        cookie for url, verb, cookie in sent if urlsplit(url).path == path and verb == method
    ]
    assert cookies, f"no {method} {path} in the network log"
    return cookies


@pytest.fixture
def chrome():
    from selenium import webdriver

    chromium = _tool("chromium", "chromium-browser")
    driver_path = _tool("chromedriver")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # The DevTools network log shows which cookies each request really carried.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=driver_path), options=options
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_sp_initiated_login_in_a_real_browser_lands_logged_in(
    live_server, settings, chrome, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    settings.SITE_URL = live_server.url
    # Two sites (localhost vs 127.0.0.1): the IdP's POST to the ACS is cross-site.
    assert urlsplit(live_server.url).hostname == "localhost"
    with LoopbackIdp(tmp_path / "idp", KeyPair.generate(tmp_path / "keys", "idp")) as idp:
        metadata = idp.peer.write_metadata()
        call_command("saml_idp", "import", "--slug", SLUG, "--metadata-file", str(metadata))
        with urllib.request.urlopen(
            f"{live_server.url}/sso/{SLUG}/metadata/", timeout=10
        ) as sp_metadata:
            idp.peer.trust_sp(sp_metadata.read())

        chrome.get(f"{live_server.url}/sso/{SLUG}/login/?next=/api/v1/me/")
        WebDriverWait(chrome, 20).until(ec.presence_of_element_located((By.ID, "email")))
        assert chrome.current_url.startswith(idp.peer.sso_url)
        chrome.find_element(By.ID, "email").send_keys(EMAIL)
        chrome.find_element(By.ID, "sign-in").click()
        WebDriverWait(chrome, 20).until(ec.url_contains("/api/v1/me/"))

        assert idp.errors == []
        # Ask for JSON with the browser's own cookies (a browser gets DRF's HTML view).
        body = chrome.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/v1/me/', {headers: {Accept: 'application/json'}, credentials: 'same-origin'})"
            ".then(r => r.text().then(t => done(r.status + ' ' + t)));"
        )
        status, _, text = body.partition(" ")
        assert status == "200", body
        profile = json.loads(text)
        user = User.objects.get(email=EMAIL)
        assert profile["id"] == str(user.pk)
        assert profile["email"] == EMAIL
        assert sorted(profile["roles"]) == ["Engineering", "Staff"]
        assert AuditEvent.objects.filter(action="saml.login", target_id=str(user.pk)).count() == 1
        assert not LoginFlow.objects.filter(outcome="refused").exists()
        # The session cookie stayed Lax: the hop, not SameSite=None, carried the login.
        cookie = chrome.get_cookie("sessionid")
        assert cookie is not None
        assert cookie.get("sameSite") == "Lax"
        # On this http site the browser binding cookie is Lax too: the cross-site POST
        # from the IdP page reached the ACS without it (nor the session cookie), so the
        # same-site GET of the hop carried it (set at the login redirect) and completed.
        sent = _requests_sent(chrome)
        acs_posts = _cookies_sent(sent, f"/sso/{SLUG}/acs/", "POST")
        assert all("sessionid=" not in header for header in acs_posts)
        assert all("axero_sso_browser=" not in header for header in acs_posts)
        hops = _cookies_sent(sent, f"/sso/{SLUG}/acs/complete/", "GET")
        assert any("axero_sso_browser=" in header for header in hops)
