"""More of the admin console in a real browser (issue 12, items 2, 5, 7 and 10), next to
test_browser_console.py (connection page, test login, sign-in) and with its helpers:
the customer's IT admin on a setup link without a Django account, the dashboard after
a refused sign-in, and the persona editor's preview. Screenshots go to var/screenshots/
(the README's walkthrough uses some of them, copied to docs/screenshots/)."""

from __future__ import annotations

import json
import threading

import pytest

from personas.models import Persona
from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
from sso.dev_idp import DevIdp, dev_idp_server
from sso.services import idp_import_for_connection
from tests.e2e.test_browser_console import (
    PASSWORD,
    SLUG,
    _admin_login,
    _csp_violations,
    _pick_person,
    _shot,
    _wait_for,
    dev_idp,  # noqa: F401 - the development IdP fixture
)
from tests.e2e.test_browser_login import chrome  # noqa: F401 - the Chromium fixture
from tests.factories import UserFactory
from tests.personas.test_preview import database_snapshot
from users.models import AuditEvent, Connection, User
from users.services import Actor, connection_create, user_deactivate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN = Actor.system("test")
ONELOGIN = "onelogin"


@pytest.fixture
def onelogin_like_idp(tmp_path):
    """The development IdP behind a connection named like the README's walkthrough."""
    idp = DevIdp.with_keys_in(tmp_path / "keys", base_url="", slug=ONELOGIN)
    server = dev_idp_server(idp, 0)
    idp.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()


def _connected(dev_idp) -> Connection:  # noqa: F811
    """A connection whose IdP metadata is imported, as the connections page leaves it."""
    connection = connection_create(slug=SLUG, vendor="onelogin", actor=ADMIN)
    idp_import_for_connection(
        connection=connection, actor=ADMIN, metadata_xml=dev_idp.metadata_xml().encode()
    )
    return connection


def test_setup_link_lets_someone_without_an_account_connect_and_test(
    live_server,
    settings,
    chrome,  # noqa: F811
    onelogin_like_idp,
):
    from selenium.webdriver.common.by import By

    settings.SITE_URL = live_server.url
    User.objects.create_superuser("root", PASSWORD, email="root@example.com")
    connection = connection_create(slug=ONELOGIN, vendor="onelogin", actor=ADMIN)
    _admin_login(chrome, live_server.url)
    chrome.get(f"{live_server.url}/admin/users/connection/{connection.pk}/change/")
    button = _wait_for(chrome, "create-setup-link")
    assert "Steps in OneLogin" in chrome.find_element(By.ID, "connection-page").text
    _shot(chrome, "connection-onelogin")
    button.click()
    url = _wait_for(chrome, "setup-link-url").get_attribute("value")
    assert url.startswith(f"{live_server.url}/setup/axsetup_")
    _shot(chrome, "setup-link-created")

    # The IT admin: another browser profile in effect, with no Django session at all.
    chrome.delete_all_cookies()
    chrome.get(url)
    _wait_for(chrome, "setup-page")
    assert chrome.current_url == f"{live_server.url}/setup/"
    acs = chrome.find_element(By.ID, "value-acs").get_attribute("value")
    assert acs == f"{live_server.url}/sso/{ONELOGIN}/acs/"
    _shot(chrome, "setup-link-page")

    chrome.find_element(By.ID, "id_metadata_xml").send_keys(onelogin_like_idp.metadata_xml())
    chrome.find_element(By.ID, "import-metadata").click()
    _wait_for(chrome, "imported")
    _wait_for(chrome, "test-login").click()
    _pick_person(chrome, "Grace Hopper")
    outcome = _wait_for(chrome, "outcome")
    assert "grace@example.com" in outcome.text
    _shot(chrome, "setup-link-test-login")

    assert not User.objects.filter(email="grace@example.com").exists()
    audited = set(
        AuditEvent.objects.exclude(action__in=("connection.created", "setup_link.created"))
        .exclude(actor_kind="admin")
        .values_list("action", "actor_kind")
    )
    assert audited >= {
        ("setup_link.opened", "setup_link"),
        ("sso.idp_created", "setup_link"),
        ("saml.test_login_started", "setup_link"),
    }, audited
    assert _csp_violations(chrome) == []


def test_dashboard_shows_a_refused_sign_in_by_reason(
    live_server,
    settings,
    chrome,  # noqa: F811
    dev_idp,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    settings.SITE_URL = live_server.url
    User.objects.create_superuser("root", PASSWORD, email="root@example.com")
    _connected(dev_idp)
    chrome.get(f"{live_server.url}/sso/{SLUG}/login/?next=/api/v1/me/")
    _pick_person(chrome, "Ada Lovelace")
    WebDriverWait(chrome, 20).until(ec.url_contains("/api/v1/me/"))
    user_deactivate(user=User.objects.get(email="ada@example.com"), actor=ADMIN, reason="left")

    chrome.get(f"{live_server.url}/sso/{SLUG}/login/")
    _pick_person(chrome, "Ada Lovelace")
    refused = _wait_for(chrome, "refused-heading")
    assert refused.text == "Sign-in refused"
    page = chrome.find_element(By.TAG_NAME, "main").text
    reference = AuditEvent.objects.get(action="saml.login_refused").request_id
    assert "user_inactive" in page and reference in page
    _shot(chrome, "sign-in-refused")

    chrome.delete_all_cookies()
    _admin_login(chrome, live_server.url)
    row = chrome.find_element(By.ID, "dashboard-connections").text
    assert "user_inactive 1" in row, row
    _shot(chrome, "dashboard-refusal")
    # (DRF's browsable /api/v1/me/ page has inline styles of its own: not ours to judge.)
    assert [m for m in _csp_violations(chrome) if "/api/v1/me/" not in m] == []


def test_persona_preview_shows_who_would_join_and_leave_and_saves_nothing(
    live_server,
    settings,
    chrome,  # noqa: F811
):
    from selenium.webdriver.common.by import By

    settings.SITE_URL = live_server.url
    User.objects.create_superuser("root", PASSWORD, email="root@example.com")
    for n, department in enumerate(["Sales", "Sales", "Support", "Support", "Support"]):
        UserFactory(
            username=f"p{n}@example.com", first_name=f"P{n}", last_name="Person", department=department
        )  # fmt: skip
    space_upsert(slug="customers", name="Customers", actor=ADMIN)
    persona, _ = persona_upsert(
        slug="sales", name="Sales", rule={"attr": "department", "op": "eq", "value": "Sales"},
        spaces=[SpaceGrant(space="customers", role="member")], actor=ADMIN,
        schedule_evaluation=False,
    )  # fmt: skip
    persona_evaluate(persona=persona, actor=ADMIN)

    _admin_login(chrome, live_server.url)
    chrome.get(f"{live_server.url}/admin/personas/persona/{persona.pk}/change/")
    _wait_for(chrome, "rule-help")
    # The examples' "Use" buttons are the page's script (a static file, no inline code).
    chrome.find_element(By.CSS_SELECTOR, "button[data-example='rule-example-2']").click()
    editor = chrome.find_element(By.ID, "id_rule")
    assert json.loads(editor.get_attribute("value")) == {
        "attr": "hire_date",
        "op": "within_days",
        "value": 90,
    }
    _shot(chrome, "persona-editor")

    before = database_snapshot()
    editor.clear()
    editor.send_keys(json.dumps({"attr": "department", "op": "eq", "value": "Support"}))
    chrome.find_element(By.ID, "preview-rule").click()
    _wait_for(chrome, "rule-preview")
    joining = chrome.find_element(By.ID, "preview-joining").text
    leaving = chrome.find_element(By.ID, "preview-leaving").text
    assert joining.startswith("3 would join") and "P2 Person" in joining
    assert leaving.startswith("2 would leave") and "P0 Person" in leaving
    _shot(chrome, "persona-preview")
    assert database_snapshot() == before
    assert Persona.objects.get(pk=persona.pk).rule["value"] == "Sales"

    # The previewed rule is still in the form: saving it is one click more.
    chrome.find_element(By.NAME, "_save").click()
    _wait_for(chrome, "result_list")
    assert Persona.objects.get(pk=persona.pk).rule["value"] == "Support"
    assert _csp_violations(chrome) == []
