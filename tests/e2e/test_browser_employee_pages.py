"""An employee in a real browser: headless Chromium signs in through the pysaml2 IdP
(the loopback IdP of test_browser_login, on another site), lands on the home page,
searches, opens a profile and the org chart (whose boxes are the manager chain), a
space, and signs out through single logout. Screenshots go to var/screenshots/."""

from __future__ import annotations

import datetime as dt
import io
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from personas.models import Space
from personas.services import space_member_add, space_upsert
from tests.e2e.test_browser_login import LoopbackIdp, chrome  # noqa: F401  (fixture)
from tests.factories import CustomFieldFactory, UserFactory
from tests.sso.idp_peer import KeyPair
from users.models import User
from users.services import Actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "onelogin"
EMAIL = "browser.user@example.com"
SHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
COLOURS = ["#0b57a4", "#1d6b37", "#a61b1b", "#6b3fa0", "#b35c00", "#006d77"]


class SingleLogoutIdp(LoopbackIdp):
    """The loopback IdP, also answering the SP's LogoutRequest with a LogoutResponse."""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base, idp = super()._handler(), self

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                if not self.path.startswith("/saml/slo?"):
                    return super().do_GET()
                seen = idp.peer.logout_request_read(
                    idp.peer.slo_url + "?" + self.path.split("?", 1)[1]
                )
                self.send_response(302)
                self.send_header("Location", idp.peer.logout_response_url(seen))
                self.end_headers()
                return None

        return Handler


def _photo(colour: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), "#dde3ea")
    ImageDraw.Draw(image).ellipse((30, 18, 130, 118), fill=colour)
    ImageDraw.Draw(image).rectangle((10, 120, 150, 160), fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _with_photo(user: User, n: int) -> User:
    from media.models import ImageSource
    from media.services import profile_image_store

    profile_image_store(
        user=user, data=_photo(COLOURS[n % len(COLOURS)]), source=ImageSource.UPLOAD,
        actor=Actor.system("tests"),
    )  # fmt: skip
    return user


def _org() -> dict[str, object]:
    def person(n: int, first: str, last: str, title: str, manager: User | None, dept: str) -> User:
        user = UserFactory(
            username=f"{first.lower()}@example.com", email=f"{first.lower()}@example.com",
            first_name=first, last_name=last, title=title, department=dept, manager=manager,
            hire_date=dt.date(2019 + n % 5, 1 + n % 12, 1 + n), custom={"office": "Berlin"},
        )  # fmt: skip
        return _with_photo(user, n)

    ceo = person(0, "Cara", "Stone", "Chief Executive", None, "Board")
    cto = person(1, "Victor", "Vale", "Chief Technology Officer", ceo, "Engineering")
    lead = person(2, "Lena", "Lind", "Head of Platform", cto, "Engineering")
    reports = [
        person(3 + i, first, last, "Software Engineer", None, "Engineering")
        for i, (first, last) in enumerate([("Bob", "Bauer"), ("Cem", "Kaya"), ("Dana", "Okafor")])
    ]
    person(7, "Eva", "Silva", "Account Executive", ceo, "Sales")
    CustomFieldFactory(key="office", label="Office", public=True)
    actor = Actor.system("tests")
    space_upsert(slug="platform", name="Platform guild", actor=actor)
    space = Space.objects.get(slug="platform")
    for member in [lead, *reports]:
        space_member_add(space=space, user=member, role="member", actor=actor)
    return {"chain": [lead, cto, ceo], "reports": reports, "space": space}


def _join_org(org: dict[str, object]) -> User:
    """Put the person the login created under Lena, with three reports and a space."""
    me = User.objects.get(email=EMAIL)
    chain: list[User] = org["chain"]  # type: ignore[assignment]
    reports: list[User] = org["reports"]  # type: ignore[assignment]
    User.objects.filter(pk=me.pk).update(
        manager=chain[0], title="Staff Engineer", department="Engineering",
        display_name="Brow Ser", hire_date=dt.date(2022, 9, 1),
    )  # fmt: skip
    User.objects.filter(pk__in=[r.pk for r in reports]).update(manager=me)
    space_member_add(space=org["space"], user=me, role="moderator", actor=Actor.system("tests"))  # type: ignore[arg-type]
    _with_photo(me, 5)
    return me


def _shot(driver, name: str, width: int = 1280) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(600, min(height + 20, 1600)))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 900)


def test_an_employee_signs_in_finds_a_colleague_and_signs_out(
    live_server,
    settings,
    chrome,  # noqa: F811
    tmp_path,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    settings.SITE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    org = _org()
    chrome.set_window_size(1280, 900)
    wait = WebDriverWait(chrome, 20)
    with SingleLogoutIdp(tmp_path / "idp", KeyPair.generate(tmp_path / "keys", "idp")) as idp:
        call_command(
            "saml_idp", "import", "--slug", SLUG, "--metadata-file", str(idp.peer.write_metadata())
        )
        with urllib.request.urlopen(f"{live_server.url}/sso/{SLUG}/metadata/", timeout=10) as md:
            idp.peer.trust_sp(md.read())

        # A page that needs a person sends an anonymous visitor to the sign-in page.
        chrome.get(f"{live_server.url}/people/")
        assert chrome.current_url == f"{live_server.url}/?next=/people/"
        _shot(chrome, "sign-in")
        chrome.find_element(By.LINK_TEXT, f"Sign in with {SLUG}").click()
        wait.until(ec.presence_of_element_located((By.ID, "email")))
        chrome.find_element(By.ID, "email").send_keys(EMAIL)
        chrome.find_element(By.ID, "sign-in").click()
        wait.until(ec.url_contains("/people/"))  # back where the visitor wanted to go
        assert chrome.current_url == f"{live_server.url}/people/"
        assert idp.errors == []

        me = _join_org(org)
        chrome.get(f"{live_server.url}/")
        assert chrome.find_element(By.ID, "me-heading").text == "Welcome, Brow Ser"
        assert (
            "Lena Lind"
            in chrome.find_element(By.ID, "manager-heading").find_element(By.XPATH, "..").text
        )
        _shot(chrome, "home")
        _shot(chrome, "home-narrow", width=400)

        # Search, by keyboard: the field has a label and the button submits.
        chrome.get(f"{live_server.url}/people/")
        field = chrome.find_element(By.CSS_SELECTOR, "label[for=q] + input#q")
        field.send_keys("engineer\n")
        wait.until(ec.url_contains("q=engineer"))
        names = [a.text for a in chrome.find_elements(By.CSS_SELECTOR, "#results li a")]
        assert names == [
            "Bob Bauer", "Cem Kaya", "Lena Lind", "Dana Okafor", "Brow Ser", "Victor Vale"
        ]  # fmt: skip
        _shot(chrome, "people-search")

        chrome.find_element(By.LINK_TEXT, "Lena Lind").click()
        wait.until(ec.presence_of_element_located((By.ID, "person-heading")))
        assert chrome.find_element(By.ID, "person-heading").text == "Lena Lind"
        _shot(chrome, "profile")

        chrome.get(f"{live_server.url}/people/{me.pk}/org/")
        boxes = chrome.find_elements(By.CSS_SELECTOR, "svg a[data-person]")
        chain: list[User] = org["chain"]  # type: ignore[assignment]
        expected = [str(u.pk) for u in reversed(chain)] + [str(me.pk)]
        assert [b.get_attribute("data-person") for b in boxes][:4] == expected
        assert [b.get_attribute("class") for b in boxes] == ["box-manager"] * 3 + ["box-self"] + [
            "box-report"
        ] * 3
        _shot(chrome, "org-chart")
        # Each box is a link: the CEO's box leads to her profile.
        boxes[0].click()
        wait.until(ec.presence_of_element_located((By.ID, "person-heading")))
        assert chrome.find_element(By.ID, "person-heading").text == "Cara Stone"

        chrome.get(f"{live_server.url}/spaces/platform/")
        assert chrome.find_element(By.TAG_NAME, "h1").text == "Platform guild"
        members = chrome.find_element(By.ID, "members").text
        assert "added by an admin · moderator" in members and "Lena Lind" in members
        _shot(chrome, "space")

        chrome.get(f"{live_server.url}/account/")
        assert "(this browser)" in chrome.find_element(By.CLASS_NAME, "sessions").text
        _shot(chrome, "account")

        chrome.get(f"{live_server.url}/")
        chrome.find_element(By.ID, "sign-out").click()
        # Through the IdP's single logout (CSP's form-action lets the POST's redirect go
        # there) and back to the SP's signed-out page.
        wait.until(ec.url_contains(f"/sso/{SLUG}/logged-out/"))
        assert idp.errors == []
        chrome.get(f"{live_server.url}/account/")
        assert chrome.current_url == f"{live_server.url}/?next=/account/"
        assert chrome.find_element(By.LINK_TEXT, f"Sign in with {SLUG}")
