"""The user page and the audit trail in a real browser (issue 12, items 6 and 8):
headless Chromium deactivates a person from their page with a reason, then finds the
record in the audit trail by searching her name. No Content-Security-Policy violation
on either page. Screenshots go to var/screenshots/ (user-page.png, audit-trail.png)."""

from __future__ import annotations

import pytest

from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
from personas.services.spaces import space_member_add
from tests.e2e.test_browser_console import PASSWORD, _csp_violations, _shot, _wait_for
from tests.e2e.test_browser_login import chrome  # noqa: F401 - the Chromium fixture
from tests.factories import CustomFieldFactory, RoleFactory, RoleMembershipFactory, UserFactory
from users.models import AuditEvent, User
from users.services import Actor, audit_record, role_rename, user_update

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _a_company() -> User:
    """Ada, as a connection would leave her: roles from SCIM, SAML and an admin, spaces
    from a persona and by hand, a custom field, two sign-ins; and some trail around her."""
    system, okta = Actor.system("demo"), Actor.scim("okta-push")
    CustomFieldFactory(key="shirt_size", label="Shirt size")
    ada = UserFactory(
        username="alovelace",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        title="Analyst",
        department="Engineering",
        custom={"shirt_size": "M"},
    )
    engineering = RoleFactory(display_name="Engineering")
    RoleMembershipFactory(role=engineering, user=ada, source="scim")
    RoleMembershipFactory(role=RoleFactory(display_name="Admins"), user=ada, source="saml:okta")
    RoleMembershipFactory(role=RoleFactory(display_name="Mentors"), user=ada, source="manual")
    space_upsert(slug="engineering", name="Engineering", actor=system)
    handbook, _ = space_upsert(slug="handbook", name="Handbook", actor=system)
    persona, _ = persona_upsert(
        slug="engineers",
        name="Engineers",
        rule={"attr": "department", "op": "eq", "value": "Engineering"},
        spaces=[SpaceGrant(space="engineering", role="contributor")],
        actor=system,
        schedule_evaluation=False,
    )
    persona_evaluate(persona=persona, actor=system)
    space_member_add(space=handbook, user=ada, actor=Actor.admin("root"))
    for idp, detail in (("okta", {"created": True}), ("okta", {})):
        audit_record(
            actor=Actor.idp(idp), action="saml.login", target=ada, detail={"idp": idp, **detail}
        )
    user_update(user=ada, actor=okta, attributes={"title": "Senior analyst"})
    role_rename(role=engineering, display_name="Engineering", actor=okta)
    audit_record(
        actor=Actor.idp("okta"),
        action="saml.login_refused",
        target_type="identityprovider",
        target_id="okta",
        detail={"reason": "expired", "reference": "R-7Q2K"},
    )
    return ada


def _fold_nav(driver) -> None:
    """The admin's app list folded away, so the page has the width (remembered)."""
    from selenium.webdriver.common.by import By

    toggle = driver.find_element(By.ID, "toggle-nav-sidebar")
    if driver.find_element(By.ID, "nav-sidebar").is_displayed():
        toggle.click()


def test_deactivate_from_the_user_page_then_find_it_in_the_audit_trail(
    live_server,
    settings,
    chrome,  # noqa: F811
):
    from selenium.webdriver.common.by import By

    settings.SITE_URL = live_server.url
    User.objects.create_superuser("root", PASSWORD, email="root@example.com")
    ada = _a_company()
    chrome.get(f"{live_server.url}/admin/login/?next=/admin/users/user/{ada.pk}/change/")
    chrome.find_element(By.ID, "id_username").send_keys("root")
    chrome.find_element(By.ID, "id_password").send_keys(PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait_for(chrome, "user-summary")

    # The user page: status first; Deactivate asks a reason.
    assert chrome.find_element(By.ID, "user-status").text == "Active"
    assert "Engineers" in chrome.find_element(By.ID, "user-spaces").text
    assert "SAML (okta)" in chrome.find_element(By.ID, "user-roles").text
    chrome.find_element(By.ID, "status-reason").send_keys("Left the company")
    chrome.find_element(By.CSS_SELECTOR, "#user-status-form input[type=submit]").click()
    _wait_for(chrome, "user-summary")
    assert chrome.find_element(By.ID, "user-status").text == "Deactivated"
    assert "Left the company" in chrome.find_element(By.ID, "user-summary").text
    _fold_nav(chrome)
    _shot(chrome, "user-page")
    ada.refresh_from_db()
    assert not ada.is_active
    assert AuditEvent.objects.get(action="user.deactivated").detail == {
        "reason": "Left the company"
    }

    # The audit trail: her name finds what happened to her, by name and with a link.
    chrome.get(f"{live_server.url}/admin/users/auditevent/?q=Ada+Lovelace")
    rows = chrome.find_element(By.ID, "result_list").text
    assert "Ada Lovelace <ada@example.com>" in rows
    assert "user.deactivated" in rows and "saml.login" in rows
    assert "saml.login_refused" not in rows
    _fold_nav(chrome)
    _shot(chrome, "audit-trail")
    chrome.find_element(By.CSS_SELECTOR, ".object-tools a[href*='export.csv']")
    assert _csp_violations(chrome) == []
