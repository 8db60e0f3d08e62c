"""The back office in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) driven by
Selenium against a live server. A staff member signs in, sees the dashboard refresh itself, follows a chart to the
messages behind it and opens an analytics page, in English and in Khmer.

Without Chromium the tests are skipped, except in CI (`CI=true`), where `.ci/run` installs it and its absence fails.
"""

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.messaging.models import Message

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        reason = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def scene(settings):
    """A staff member, a client whose two messages were submitted this hour (one delivered), and rollups."""
    from apps.accounts.models import User
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory
    from apps.backoffice.rollup import rollup_rebuild
    from apps.messaging.choices import MessageStatus
    from apps.messaging.services import MessageInput, message_submit
    from apps.messaging.state import message_transition

    settings.BACKOFFICE_DASHBOARD_REFRESH_SECONDS = 1
    staff = User.objects.create_user(phone="+85512999001", password=PASSWORD, is_staff=True, is_superuser=True)
    organization = client_create(user=UserFactory(), name="Angkor Coffee")
    for to in ("+85512345678", "+85512345679"):
        message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Hello"))
    first = organization.messages.order_by("pk").first()
    message_transition(message=first, to=MessageStatus.ASSIGNED)
    message_transition(message=first, to=MessageStatus.DELIVERED)
    rollup_rebuild(since=timezone.now() - timedelta(days=1), until=timezone.now() + timedelta(hours=1))
    return staff


def _covers(href: str, moment: datetime) -> bool:
    """Whether a chart link's `created_at__gte` … `created_at__lt` range holds `moment`."""
    query = parse_qs(urlsplit(href).query)
    return parse_datetime(query["created_at__gte"][0]) <= moment < parse_datetime(query["created_at__lt"][0])


def _wait(driver, css: str, timeout: float = 10):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _sign_in(driver, live_server, staff, language: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{live_server.url}/admin/login/")
    driver.add_cookie({"name": "django_language", "value": language})
    driver.get(f"{live_server.url}/admin/login/?next=/admin/")
    driver.find_element(By.NAME, "username").send_keys(staff.phone)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(driver, "#operations-dashboard")


@pytest.mark.parametrize(
    ("language", "operations", "clients"), [("en", "Operations", "Clients"), ("km", "ប្រតិបត្តិការ", "អតិថិជន")]
)
def test_staff_use_the_dashboard_a_chart_and_an_analytics_page(
    browser, live_server, scene, language, operations, clients
):
    from selenium.webdriver.common.by import By

    driver = browser
    _sign_in(driver, live_server, scene, language)
    dashboard = driver.find_element(By.ID, "operations-dashboard")
    assert operations in dashboard.find_element(By.TAG_NAME, "h2").text
    submitted = dashboard.find_element(By.CSS_SELECTOR, '[data-figure="submitted"] .value')
    assert submitted.text == "2"
    # The page refreshes itself from its JSON endpoint (every second here).
    _wait(driver, "#operations-dashboard[data-refreshed]")
    assert dashboard.find_element(By.CSS_SELECTOR, '[data-figure="delivered_rate"] .value').text == "100"

    # Each bar group of the 24-hour chart opens the messages submitted in its hour. The scene's is the last group,
    # unless the hour turned between the scene and the refresh: the group is found by its hour, not its place.
    groups = driver.find_elements(By.CSS_SELECTOR, '[data-chart="hours"] svg a')
    assert len(groups) == 24
    submitted_at = Message.objects.order_by("pk").first().created_at
    [scene_hour] = [href for href in (g.get_dom_attribute("href") for g in groups) if _covers(href, submitted_at)]
    driver.get(live_server.url + scene_hour)
    rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 2

    driver.get(f"{live_server.url}/admin/backoffice/analytics/clients/")
    assert clients in driver.find_element(By.CSS_SELECTOR, "#content h2").text
    cells = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, ".backoffice-table tbody tr:first-child td")]
    assert cells[:4] == ["Angkor Coffee", "2", "2", "1"]


def test_staff_switch_language_from_the_admin_header(browser, live_server, scene):
    """The header's language menu posts to `set_language`, comes back to the same page, and the choice sticks."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    _sign_in(driver, live_server, scene, "km")
    assert driver.find_element(By.ID, "site-name").text == "ប្រតិបត្តិការ PeerPower"
    driver.get(f"{live_server.url}/admin/providers/provider/")
    Select(driver.find_element(By.ID, "language-switcher-select")).select_by_value("en")
    _wait(driver, "html[lang=en]")
    assert driver.current_url.endswith("/admin/providers/provider/")
    assert driver.find_element(By.ID, "site-name").text == "PeerPower operations"
    assert driver.get_cookie("django_language")["value"] == "en"
    driver.get(f"{live_server.url}/admin/")
    assert "Operations" in driver.find_element(By.CSS_SELECTOR, "#operations-dashboard h2").text
    Select(driver.find_element(By.ID, "language-switcher-select")).select_by_value("km")
    _wait(driver, "html[lang=km]")
    assert "ប្រតិបត្តិការ" in driver.find_element(By.CSS_SELECTOR, "#operations-dashboard h2").text
