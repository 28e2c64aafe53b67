"""The applicant pages on a cheap phone (Debian's Chromium, driven by Playwright, 360 px, no
JavaScript), in French and in Arabic: what they weigh on the wire with static files served as in
production (tests/browser/conftest.py), that none scrolls sideways, that the registration form
works with the keyboard alone, that Arabic pages run right to left with references kept left to
right, and that axe-core finds no serious or critical violation in either direction.

Weights are the bytes Chromium received (headers included), summed from the DevTools protocol's
Network.loadingFinished events, with the browser cache on between pages as on a phone.
`PAGE_WEIGHT_REPORT=1` prints them (docs/benchmarks.md, "Page weight")."""

import os
import re

import pytest
from django.core.management import call_command

from accounts.models import OutboxMessage
from booking.models import Entry, Window, WindowState
from booking.receipts import receipt_token
from lottery.management.commands.load_demo_draw import CODE
from tests.browser.axe import serious_violations
from tests.browser.test_draw_pages import chromium  # noqa: F401 - the shared browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
FIRST_VISIT_BUDGET = 250_000
LATER_PAGE_BUDGET = 20_000
LANGUAGES = ["fr", "ar"]
LATER_PAGES = ["/my/login/", "/draws/", "/accessibilite/", "/receipt/check/"]


@pytest.fixture
def demo(production_server):
    call_command("load_demo", stdout=None)
    call_command("load_demo_draw", stdout=None)
    return production_server


def _open_window() -> Window:
    return Window.objects.filter(prefecture__code="ISERE", state=WindowState.OPEN).first()


def _applicant_pages() -> list[str]:
    entry = Entry.objects.filter(window__code=CODE).select_related("window", "procedure").first()
    return [
        "/",
        f"/register/{_open_window().code}/",
        "/my/login/",
        "/receipt/check/",
        f"/receipt/{receipt_token(entry)}/",
        "/draws/",
        f"/draws/{CODE}/",
        "/draws/how-to-check/",
        "/accessibilite/",
    ]


def _phone(chromium, base: str, language: str, *, javascript: bool = False):  # noqa: F811
    context = chromium.new_context(
        viewport=PHONE, java_script_enabled=javascript, locale="fr-FR", bypass_csp=javascript
    )
    context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    return context


class Wire:
    """Bytes received by one page of a browser context, request by request."""

    def __init__(self, context, page):
        self.sizes, self.urls = {}, {}
        session = context.new_cdp_session(page)
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.loadingFinished", self._finished)
        session.send("Network.enable")

    def _sent(self, event):
        self.urls[event["requestId"]] = event["request"]["url"]

    def _finished(self, event):
        self.sizes[event["requestId"]] = event["encodedDataLength"]

    def take(self) -> dict[str, int]:
        """The bytes of each URL received from the network since the last call (a file taken
        from the cache, or a data: URI, received nothing)."""
        taken = {self.urls.get(rid, rid): size for rid, size in self.sizes.items() if size}
        self.sizes = {}
        return taken


def _visit(page, url: str, wire: Wire) -> dict[str, int]:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return wire.take()


def _report(label: str, received: dict[str, int]) -> None:
    if os.environ.get("PAGE_WEIGHT_REPORT"):
        print(f"\n{label}: {sum(received.values())} bytes")
        for url, size in sorted(received.items(), key=lambda item: -item[1]):
            print(f"  {size:>8}  {url}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_first_visit_and_later_pages_stay_light(demo, chromium, language):  # noqa: F811
    context = _phone(chromium, demo, language)
    page = context.new_page()
    wire = Wire(context, page)

    first = _visit(page, demo + "/", wire)
    later = {path: _visit(page, demo + path, wire) for path in LATER_PAGES}
    context.close()
    _report(f"{language} first visit /", first)
    for path, received in later.items():
        _report(f"{language} later page {path}", received)

    assert sum(first.values()) <= FIRST_VISIT_BUDGET
    # What a page before it fetched comes from the cache: nothing is received twice.
    urls = [url for received in (first, *later.values()) for url in received]
    assert sorted(url for url in set(urls) if urls.count(url) > 1) == []
    assert {
        path: sum(r.values()) for path, r in later.items() if sum(r.values()) > LATER_PAGE_BUDGET
    } == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_registration_page_after_the_home_page_stays_light(demo, chromium, language):  # noqa: F811
    context = _phone(chromium, demo, language)
    page = context.new_page()
    wire = Wire(context, page)

    _visit(page, demo + "/", wire)
    register = _visit(page, f"{demo}/register/{_open_window().code}/", wire)
    context.close()
    _report(f"{language} later page /register/", register)

    assert sum(register.values()) <= LATER_PAGE_BUDGET


def test_static_files_are_compressed_and_kept_a_year(demo, chromium):  # noqa: F811
    context = _phone(chromium, demo, "fr")
    page = context.new_page()
    answers = []
    page.on("response", lambda response: answers.append(response))
    page.goto(demo + "/")
    page.wait_for_load_state("networkidle")
    static = {a.url: a.all_headers() for a in answers if "/static/" in a.url}
    context.close()

    stylesheet = next(headers for url, headers in static.items() if "dsfr-subset." in url)
    assert [url for url in static if re.search(r"/booking/dsfr-subset\.[0-9a-f]{12}\.css$", url)]
    assert stylesheet["content-encoding"] in {"gzip", "br"}
    assert {url: h["cache-control"] for url, h in static.items()} == dict.fromkeys(
        static, "max-age=315360000, public, immutable"
    )
    # Regular, Medium and Bold at most; no DSFR JavaScript, no other icon sheet.
    assert not [url for url in static if url.endswith(".js")]
    assert len([url for url in static if ".woff2" in url]) <= 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_applicant_page_scrolls_sideways_at_360_px(demo, chromium, language):  # noqa: F811
    context = _phone(chromium, demo, language)
    page = context.new_page()
    pages = _applicant_pages()
    overflow = {}
    for path in pages:
        page.goto(demo + path)
        overflow[path] = page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    context.close()

    assert overflow == dict.fromkeys(pages, 0)


@pytest.mark.parametrize("language", LANGUAGES)
def test_arabic_runs_right_to_left_with_references_left_to_right(demo, chromium, language):  # noqa: F811
    entry = Entry.objects.filter(window__code=CODE).first()
    context = _phone(chromium, demo, language)
    page = context.new_page()
    page.goto(f"{demo}/receipt/{receipt_token(entry)}/")
    direction = page.evaluate(
        "[document.documentElement.dir, getComputedStyle(document.body).direction]"
    )
    reference = page.locator("bdi[dir=ltr]", has_text=entry.entry_id).count()
    rtl_sheet = page.locator("link[href*='booking/rtl.']").count()
    page.goto(f"{demo}/draws/{CODE}/")
    code = page.locator("bdi[dir=ltr]", has_text=CODE).count()
    context.close()

    expected = "rtl" if language == "ar" else "ltr"
    assert direction == [expected, expected]
    assert (reference, code) == (1, 1)
    assert rtl_sheet == (1 if language == "ar" else 0)


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _submit_with_enter(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _latest_code(recipient: str) -> str:
    codes = OutboxMessage.objects.filter(dedup_key__startswith="otp:").order_by("-pk")
    body = next(message.body for message in codes if message.recipient == recipient)
    return re.search(r"\b(\d{6})\b", body).group(1)


@pytest.mark.parametrize("language", LANGUAGES)
def test_registration_works_with_the_keyboard_alone(demo, chromium, language):  # noqa: F811
    window = _open_window()
    context = _phone(chromium, demo, language)
    page = context.new_page()
    page.goto(f"{demo}/register/{window.code}/")

    # A bad submission: the error summary takes the focus, its first link leads to the field.
    _tab_to(page, "form[data-altcha] button[type=submit]")
    _submit_with_enter(page)
    summary_focused = page.evaluate("document.activeElement.id")
    page.keyboard.press("Tab")
    first_link = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    field_focused = page.evaluate("'#' + document.activeElement.id")

    # The form filled in with Tab, Space, the arrows and typing, sent with Enter.
    _tab_to(page, "input[name=procedure]")
    page.keyboard.press("Space")
    _tab_to(page, "input[name=identifier]")
    page.keyboard.type("7512345679")
    page.keyboard.press("Tab")
    page.keyboard.type("Haidari")
    page.keyboard.press("Tab")
    page.keyboard.type("Amina")
    page.keyboard.press("Tab")
    page.keyboard.type("04031991")  # the date field of the fr-FR locale: dd mm yyyy
    _tab_to(page, "select[name=nationality]")
    page.keyboard.press("ArrowDown")
    _tab_to(page, "input[name=contact]")
    page.keyboard.type("+33 6 98 76 54 32")
    _tab_to(page, "form[data-altcha] button[type=submit]")
    _submit_with_enter(page)
    on_code_page = page.url.split("#")[0]  # a fragment followed stays through redirects
    _tab_to(page, "input[name=code]")
    page.keyboard.type(_latest_code("+33698765432"))
    _submit_with_enter(page)
    context.close()

    assert summary_focused == "error-summary"
    assert first_link == "#id_procedure_0"
    assert field_focused == first_link
    assert on_code_page.endswith("/register/verify/")
    assert "/receipt/" in page.url


@pytest.mark.parametrize("language", LANGUAGES)
def test_applicant_pages_have_no_serious_accessibility_violation(demo, chromium, language):  # noqa: F811
    # JavaScript only to run axe; this context alone bypasses the CSP that refuses it.
    context = _phone(chromium, demo, language, javascript=True)
    page = context.new_page()
    pages = [*_applicant_pages(), "/register/error/"]
    found = {}
    for path in pages:
        if path == "/register/error/":  # the registration form with its error summary
            page.goto(f"{demo}/register/{_open_window().code}/")
            page.locator("form[data-altcha] button[type=submit]").click()
            page.wait_for_load_state()
        else:
            page.goto(demo + path)
        found[path] = serious_violations(page)
    context.close()

    assert found == {path: [] for path in pages}
