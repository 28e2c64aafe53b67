"""The applicant's whole journey in a real browser (Debian's Chromium, driven by Playwright), on
a 360 px phone without JavaScript, in French and in Arabic: choose the language, register,
type the code, get the receipt; then, as the demo applicant who holds an offer, open the
offer's signed link, confirm, download the convocation (PDF) and the calendar entry (.ics).
axe-core then finds no serious or critical violation on every page of the journey, in both
directions.

The two halves are two people: registering does not draw, and the offer is the demo
applicant's (load_demo_offers), whose draw was run and published at start."""

import re
from io import BytesIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.crypto import blind_index
from accounts.models import OutboxMessage
from booking.models import Appointment, AppointmentState, Window, WindowState
from lottery import offer_links
from lottery.management.commands.load_demo_offers import PHONE as DEMO_PHONE
from tests.browser.axe import serious_violations
from tests.browser.test_draw_pages import chromium  # noqa: F401 - the shared browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
ARABIC = re.compile("[\u0600-\u06ff]")


@pytest.fixture
def demo(live_server):
    call_command("load_demo", stdout=None)
    call_command("load_demo_offers", stdout=None)
    return live_server.url


def _choose_language(page, base: str, language: str) -> None:
    page.goto(base + "/")
    page.select_option("#lang-select", language)
    page.locator("#lang-select ~ button").click()
    page.wait_for_load_state()


def _latest_code(contact_value: str) -> tuple[str, str]:
    """The last one-time code sent to `contact_value`, and its message."""
    codes = OutboxMessage.objects.filter(dedup_key__startswith="otp:").order_by("-pk")
    body = next(m.body for m in codes if m.recipient == contact_value)
    return re.search(r"\b(\d{6})\b", body).group(1), body


def _register(page, base: str, window: Window) -> None:
    page.goto(f"{base}{reverse('register', args=[window.code])}")
    page.locator("input[name=procedure]").first.check()
    page.locator("input[name=identity_kind][value=agdref]").check()
    page.fill("input[name=identifier]", "7512345679")
    page.fill("input[name=family_name]", "Haidari")
    page.fill("input[name=given_names]", "Amina")
    page.fill("input[name=birth_date]", "1991-03-04")
    page.select_option("select[name=nationality]", "AF")
    page.locator("input[name=contact_kind][value=phone]").check()
    page.fill("input[name=contact]", "0698765432")
    page.locator("form[data-altcha] button[type=submit]").click()
    page.wait_for_load_state()


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_register_then_answer_an_offer_by_its_link(demo, chromium, language):  # noqa: F811
    context = chromium.new_context(
        viewport=PHONE, java_script_enabled=False, locale="fr-FR", accept_downloads=True
    )
    page = context.new_page()
    visited = []

    # The language, chosen in its own script, then kept on every page.
    _choose_language(page, demo, language)
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    visited.append(page.url)

    # Register, type the code, get the receipt.
    window = Window.objects.filter(prefecture__code="ISERE", state=WindowState.OPEN).first()
    _register(page, demo, window)
    assert "/register/verify/" in page.url, page.content()[:3000]
    visited.append(page.url)
    code, sms = _latest_code("+33698765432")
    assert bool(ARABIC.search(sms)) == (language == "ar")
    page.fill("input[name=code]", code)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "/receipt/" in page.url
    assert page.locator("bdi[dir=ltr]").count() >= 1  # the reference stays left to right
    visited.append(page.url)

    # The demo applicant's offer, by its signed link: no code asked.
    offer = Appointment.objects.filter(
        entry__contact__value_hash=blind_index("contact", DEMO_PHONE),
        state=AppointmentState.OFFERED,
    ).first()
    link = demo + reverse("offer", args=[offer_links.make(offer)])
    page.goto(link)
    visited.append(page.url)
    page.goto(link + "decline/")
    visited.append(page.url)
    page.goto(link)
    page.locator("form[action$='/accept/'] button").click()
    page.wait_for_load_state()
    assert Appointment.objects.get(pk=offer.pk).state == AppointmentState.CONFIRMED
    visited.append(page.url)

    with page.expect_download() as pdf_download:
        page.locator("a[href$='convocation.pdf']").click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    with page.expect_download() as ics_download:
        page.locator("a[href$='appointment.ics']").click()
    ics = Path(ics_download.value.path()).read_text()

    text = _pdf_text(pdf)
    assert pdf.startswith(b"%PDF") and offer.entry.entry_id[:8].upper() in text.upper()
    assert "Convocation" in text  # the agent's French part
    assert bool(ARABIC.search(text)) == (language == "ar")
    assert "TZID=Europe/Paris" in ics and "BEGIN:VTIMEZONE" in ics
    cookies = context.cookies()  # the language chosen, and the session
    context.close()

    _assert_no_serious_violations(chromium, cookies, visited)


def _assert_no_serious_violations(chromium, cookies, urls):  # noqa: F811
    # JavaScript only to run axe, with the CSP bypassed for the injected script.
    context = chromium.new_context(viewport=PHONE, locale="fr-FR", bypass_csp=True)
    context.add_cookies(cookies)
    page = context.new_page()
    found = {}
    for url in urls:
        page.goto(url)
        found[url] = serious_violations(page)
    context.close()
    assert found == {url: [] for url in urls}
