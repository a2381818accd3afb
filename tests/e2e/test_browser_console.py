"""The admin console in a real browser (issue 12, items 1, 3, 5 and 9): headless
Chromium creates a connection on admin → Connections, pastes the development IdP's
metadata, runs a test login (which changes nothing), then a person signs in for real
and the checklist and the dashboard show it. The app runs on the live server
(http://localhost:PORT), the development IdP (sso.dev_idp) on http://127.0.0.1:PORT:
a different site, as in production. Screenshots go to var/screenshots/."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from sso.dev_idp import DevIdp, dev_idp_server
from sso.models import SamlIdentity, SamlSession
from tests.e2e.test_browser_login import chrome  # noqa: F401 - the Chromium fixture
from users.models import AuditEvent, Connection, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "dev-idp"
PASSWORD = "correct-horse-battery-staple-9"
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def dev_idp(tmp_path):
    idp = DevIdp.with_keys_in(tmp_path / "keys", base_url="", slug=SLUG)
    server = dev_idp_server(idp, 0)
    idp.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()


def _shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(
        1280, max(900, driver.execute_script("return document.body.scrollHeight"))
    )
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def _wait_for(driver, element_id: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    try:
        return WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, element_id)))
    except TimeoutException:
        _shot(driver, f"failed-waiting-for-{element_id}")
        raise AssertionError(f"no #{element_id} at {driver.current_url}") from None


def _admin_login(driver, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys("root")
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait_for(driver, "dashboard")


def _pick_person(driver, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.find_elements(By.XPATH, f"//button[normalize-space()='{name}']")
    )
    driver.find_element(By.XPATH, f"//button[normalize-space()='{name}']").click()


def _csp_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def test_connect_the_dev_idp_test_login_then_sign_in(live_server, settings, chrome, dev_idp):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings.SITE_URL = live_server.url
    User.objects.create_superuser("root", PASSWORD, email="root@example.com")
    _admin_login(chrome, live_server.url)

    # 1. A connection from the "other SAML" preset.
    chrome.get(f"{live_server.url}/admin/users/connection/add/")
    Select(chrome.find_element(By.ID, "id_vendor")).select_by_value("saml")
    chrome.find_element(By.ID, "id_slug").send_keys(SLUG)
    chrome.find_element(By.NAME, "_save").click()
    _wait_for(chrome, "connection-page")
    acs = chrome.find_element(By.ID, "value-acs").get_attribute("value")
    assert acs == f"{live_server.url}/sso/{SLUG}/acs/"
    _shot(chrome, "connection-created")

    # 2. The dev IdP's metadata, pasted.
    chrome.find_element(By.ID, "id_metadata_xml").send_keys(dev_idp.metadata_xml())
    chrome.find_element(By.ID, "import-metadata").click()
    _wait_for(chrome, "test-login")
    assert chrome.find_element(By.ID, "check-metadata").get_attribute("class") == "done"
    assert chrome.find_element(By.ID, "check-login").get_attribute("class") == "todo"
    _shot(chrome, "connection-metadata-imported")

    # 3. A test login: the IdP answers, the admin sees what would happen, nothing changes.
    users_before = User.objects.count()
    chrome.find_element(By.ID, "test-login").click()
    _pick_person(chrome, "Ada Lovelace")
    outcome = _wait_for(chrome, "outcome")
    assert "Would create the account ada@example.com" in outcome.text
    assert "Engineering" in chrome.find_element(By.ID, "roles").text
    _shot(chrome, "test-login-result")
    assert User.objects.count() == users_before
    assert not SamlIdentity.objects.exists() and not SamlSession.objects.exists()
    assert AuditEvent.objects.get(action="saml.test_login").detail["outcome"] == "create"
    assert _csp_violations(chrome) == []

    # 4. A real sign-in, then the checklist and the dashboard show it.
    chrome.get(f"{live_server.url}/sso/{SLUG}/login/?next=/api/v1/me/")
    _pick_person(chrome, "Ada Lovelace")
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(chrome, 20).until(ec.url_contains("/api/v1/me/"))
    assert SamlIdentity.objects.get(idp__slug=SLUG).name_id == "ada@example.com"
    _admin_login(chrome, live_server.url)
    dashboard = chrome.find_element(By.ID, "dashboard-connections").text
    assert SLUG in dashboard and "never" not in dashboard
    _shot(chrome, "dashboard")
    connection = Connection.objects.get(slug=SLUG)
    chrome.get(f"{live_server.url}/admin/users/connection/{connection.pk}/change/")
    assert chrome.find_element(By.ID, "check-login").get_attribute("class") == "done"
    _shot(chrome, "connection-checklist-done")
    # (DRF's browsable /api/v1/me/ page has inline styles of its own: not ours to judge.)
    assert [m for m in _csp_violations(chrome) if "/api/v1/me/" not in m] == []
