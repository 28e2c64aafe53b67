"""The auditor's path in a real browser (Debian's Chromium, driven by Playwright): the demo draw is
reached from the home page by links, the draw pages fit a 360 px phone without JavaScript, and
axe-core finds no serious or critical accessibility violation on them."""

import os

import pytest
from django.core.management import call_command

from lottery.management.commands.load_demo_draw import CODE
from tests.browser.axe import serious_violations
from tests.conftest import CHROMIUM, browser_available

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
PAGES = ["/draws/", f"/draws/{CODE}/", "/draws/how-to-check/"]


@pytest.fixture(scope="module")
def chromium():
    if not browser_available():  # the marker's rule (tests/conftest.py) skips or fails first
        pytest.skip("no browser")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django then refuses the
    # ORM calls of the test (the demo data). Safe in tests: the test loads its data before
    # the first page and waits for each page, so it and live_server never query at once.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo(live_server):
    call_command("load_demo", stdout=None)
    call_command("load_demo_draw", stdout=None)
    return live_server.url


@pytest.fixture
def phone(chromium):
    """A phone without JavaScript, in French (the service's default language)."""
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False, locale="fr-FR")
    yield context.new_page()
    context.close()


def test_demo_draw_is_two_clicks_from_the_home_page(demo, phone):
    phone.goto(demo + "/")

    phone.locator('#navigation a[href="/draws/"]').click()
    phone.locator(f'a[href="/draws/{CODE}/"]').first.click()

    assert phone.url == f"{demo}/draws/{CODE}/"
    assert phone.locator("#summary h2").inner_text() == "Ce tirage en bref"


def test_draw_pages_fit_a_phone_without_sideways_scroll(demo, phone):
    widths, wrapped = {}, {}
    for path in PAGES:
        phone.goto(demo + path)
        widths[path] = phone.evaluate("document.documentElement.scrollWidth")
        # lottery/draws.css is served and applied: digests may break anywhere.
        wrapped[path] = phone.evaluate(
            "getComputedStyle(document.querySelector('#content code')).overflowWrap"
        )

    assert widths == dict.fromkeys(PAGES, PHONE["width"])
    assert wrapped == dict.fromkeys(PAGES, "anywhere")


def test_draw_pages_have_no_serious_accessibility_violation(demo, chromium):
    # JavaScript only to run axe; the CSP (script-src 'self' + nonce) would refuse the
    # injected script, so this context alone bypasses it.
    context = chromium.new_context(viewport=PHONE, locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    found = {}
    for path in PAGES:
        page.goto(demo + path)
        found[path] = serious_violations(page)
    context.close()

    assert found == {path: [] for path in PAGES}
