"""The files of a confirmed appointment: the convocation as a one-page A4 PDF, in the person's
language and in French for the agent, and the appointment as a calendar entry (.ics).

The PDF's text is read back with pypdf, and its embedded fonts listed. What each language's
block is checked for is there whatever the translators have done so far (a string missing
from a catalog falls back to French): the language's own name (config/languages.py), the
date as Django writes it in that language (Django's own catalogs name the days and months in
Arabic and Ukrainian), and the prefecture's texts, printed as typed. What the tests prove is
that the text maps back to the right letters and that every glyph comes from a Noto font (the
Arabic-script and Ethiopic ones where those scripts are); that the letters are joined as they
should be was checked by eye on rendered pages, not here.
"""

import io
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from icalendar import Calendar
from pypdf import PdfReader
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from accounts.models import User
from booking.checkin_token import make_token, read_token
from booking.models import AppointmentState, WindowState
from lottery import clock
from lottery import convocation_pdf as convocation_pdf_module
from lottery.convocation_pdf import Directed, convocation_pdf
from lottery.ics import appointment_ics
from tests.factories import (
    AppointmentFactory,
    ContactFactory,
    EntryFactory,
    ProcedureFactory,
    SiteFactory,
    SlotFactory,
    WindowFactory,
)

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
# A Monday in summer time (UTC+2): 09:30 in Paris is 07:30 UTC.
STARTS = datetime(2027, 7, 5, 9, 30, tzinfo=PARIS)
A4 = (595.276, 841.89)  # 210 x 297 mm in points
DOCUMENTS = "Passeport ou carte consulaire\nJustificatif de domicile de moins de 3 mois\n"


@pytest.fixture
def confirmed(prefecture):
    """A confirmed appointment of a published draw, its contact logged in by `logged_in`."""
    procedure = ProcedureFactory(
        prefecture=prefecture, name="Renouvellement de titre de séjour", documents=DOCUMENTS
    )
    window = WindowFactory(
        prefecture=prefecture, procedures=[procedure], state=WindowState.PUBLISHED
    )
    site = SiteFactory(
        prefecture=prefecture, name="Préfecture de Grenoble", address="12 place de Verdun, Grenoble"
    )
    slot = SlotFactory(window=window, site=site, procedure=procedure, starts_at=STARTS)
    contact = ContactFactory(user=User.objects.create_user(username="applicant"))
    entry = EntryFactory(window=window, procedure=procedure, contact=contact)
    return AppointmentFactory(entry=entry, slot=slot, state=AppointmentState.CONFIRMED)


@pytest.fixture
def logged_in(client, confirmed):
    session = client.session
    session["applicant_contact"] = confirmed.entry.contact_id
    session.save()
    return client


def _read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in _read(pdf).pages)


def _fonts(pdf: bytes) -> set[str]:
    """The names of the fonts the pages use, without the subset prefix: {"Noto-Sans", ...}."""
    return {
        str(font.get_object()["/BaseFont"]).lstrip("/").split("+")[-1]
        for page in _read(pdf).pages
        for font in page["/Resources"]["/Font"].values()
    }


def _has_words(text: str, phrase: str) -> bool:
    """Whether each word of `phrase` is in `text`. pypdf gives the runs of mixed right-to-left
    and left-to-right text in the order they are drawn ("2027  يوليو5 الاثنين"), each word
    whole and in reading order: so words, not the phrase, of a date in an RTL block."""
    return all(word in text for word in phrase.split())


def _long_date(language: str) -> str:
    """The date as the convocation writes it in `language`, from the catalogs of the day."""
    with translation.override(language):
        return date_format(STARTS, "l j E Y")


# --- The PDF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "ar", "fa-af", "ps", "uk", "ru", "ti", "en"])
def test_the_convocation_is_one_a4_page_with_the_code_and_the_reference(confirmed, language):
    pdf = convocation_pdf(confirmed, language)

    reader = _read(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.01)
    text = _text(pdf)
    assert confirmed.entry.pseudonym in text and confirmed.entry.entry_id in text
    assert " ".join(make_token(confirmed).split("-")) in text
    assert "Renouvellement de titre de séjour" in text and "Préfecture de Grenoble" in text
    assert "12 place de Verdun, Grenoble" in text
    assert "Justificatif de domicile de moins de 3 mois" in text
    # French for the agent, whatever the person's language.
    assert "Apportez cette convocation et vos papiers d'identité" in text
    assert "lundi 5 juillet 2027" in text and "05/07/2027" in text and "09:30" in text
    # Every glyph comes from an embedded Noto font: no other font filled in for a script.
    assert all(font.startswith("Noto-") for font in _fonts(pdf)), _fonts(pdf)


def test_a_french_convocation_has_one_block(confirmed):
    text = _text(convocation_pdf(confirmed, "fr"))

    assert text.count("Français") == 1 and text.count("lundi 5 juillet 2027") == 1
    assert text.count("Code d'accueil") == 1


def test_an_arabic_convocation_is_in_arabic_script_with_a_noto_arabic_font(confirmed):
    pdf = convocation_pdf(confirmed, "ar")

    text = _text(pdf)
    # The language's name (config/languages.py), and the date in Arabic whatever the state of
    # our catalog: Django's own Arabic catalog names the days and months.
    assert re.search("[\u0621-\u064a]{4}", _long_date("ar"))
    assert _has_words(text, _long_date("ar")) and "العربية" in text
    assert "Français" in text
    assert "Noto-Sans-Arabic" in _fonts(pdf)


@pytest.mark.parametrize(("language", "name"), [("fa-af", "دری"), ("ps", "پښتو")])
def test_dari_and_pashto_are_shaped_by_the_arabic_script_font(confirmed, language, name):
    pdf = convocation_pdf(confirmed, language)

    text = _text(pdf)
    assert name in text and _has_words(text, _long_date(language))
    assert "Noto-Sans-Arabic" in _fonts(pdf)


def test_a_ukrainian_convocation_is_in_cyrillic(confirmed):
    pdf = convocation_pdf(confirmed, "uk")

    text = _text(pdf)
    # Django's own Ukrainian catalog names the days and months.
    assert re.search("[\u0430-\u044f]{4}", _long_date("uk"))
    assert _long_date("uk") in text and "Українська" in text
    assert _fonts(pdf) <= {"Noto-Sans", "Noto-Sans-Bold"}


def test_a_tigrinya_convocation_is_in_ethiopic_script_with_a_noto_ethiopic_font(confirmed):
    pdf = convocation_pdf(confirmed, "ti")

    text = _text(pdf)
    # Django has no Tigrinya catalog and ours may not be translated yet: the language's own
    # name is the Ethiopic text always there; the date is in whatever the catalog gives.
    assert "ትግርኛ" in text and _long_date("ti") in text
    assert "Noto-Sans-Ethiopic" in _fonts(pdf)


def test_the_arabic_block_is_right_to_left_with_codes_and_french_text_isolated(
    confirmed, monkeypatch
):
    pages = []
    render = convocation_pdf_module.render_to_string
    monkeypatch.setattr(
        convocation_pdf_module,
        "render_to_string",
        lambda *args, **kwargs: pages.append(render(*args, **kwargs)) or pages[-1],
    )

    convocation_pdf(confirmed, "ar")

    html = pages[0]
    assert '<section lang="ar" dir="rtl">' in html and '<section lang="fr" dir="ltr">' in html
    code = " ".join(make_token(confirmed).split("-"))
    assert html.count(f'<bdi dir="ltr" class="code">{code}</bdi>') == 2
    assert f'<bdi dir="ltr" class="latin"><b>{confirmed.entry.pseudonym}</b></bdi>' in html
    assert '<bdi dir="ltr" class="latin">05/07/2027</bdi>' in html
    # The prefecture's French stays left to right in the Arabic block (WeasyPrint does not
    # guess a <bdi>'s direction: it is given).
    assert '<bdi dir="ltr">12 place de Verdun, Grenoble</bdi>' in html


def test_a_text_takes_the_direction_of_its_first_strong_character():
    assert Directed("12 place de Verdun", "rtl").dir == "ltr"
    assert Directed("الاثنين 5 يوليو", "ltr").dir == "rtl"
    assert Directed("05/07/2027", "rtl").dir == "rtl"  # no strong character: the block's


def test_the_code_printed_on_the_convocation_checks_in_on_the_day(confirmed):
    text = _text(convocation_pdf(confirmed, "ar"))

    printed = re.search(r"(?:[0-9A-Z]{4} ){5}[0-9A-Z]{4}", text).group(0)
    day = STARTS.date()
    assert read_token(printed, confirmed.slot.window.prefecture_id, day).pk == confirmed.pk


def test_the_convocation_names_nobody(confirmed):
    person = confirmed.entry.person

    text = _text(convocation_pdf(confirmed, "fr"))

    assert person.family_name not in text and person.identifier not in text
    assert confirmed.entry.contact.value not in text


def test_a_long_list_of_documents_still_fits_one_page(confirmed):
    procedure = confirmed.slot.procedure
    procedure.documents = "\n".join(
        f"Pièce {n} : une ligne assez longue pour tenir presque toute la largeur de la page"
        for n in range(1, 19)
    )
    procedure.save()

    pdf = convocation_pdf(confirmed, "ps")

    assert len(_read(pdf).pages) == 1
    assert "Pièce 18 : une ligne" in _text(pdf)


def test_nothing_is_fetched_and_nothing_is_amiss_while_rendering(confirmed, monkeypatch, caplog):
    asked = []
    monkeypatch.setattr(URLFetcher, "fetch", lambda self, url, headers=None: asked.append(url))

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        convocation_pdf(confirmed, "ar")

    assert asked == []
    assert [record.getMessage() for record in caplog.records] == []  # no CSS ignored, no font


def test_a_url_would_stop_the_rendering_before_any_request(confirmed, monkeypatch):
    sent = []
    monkeypatch.setattr("urllib.request.OpenerDirector.open", lambda *a, **k: sent.append(a))
    monkeypatch.setattr(
        "lottery.convocation_pdf.render_to_string",
        lambda name, context: '<img src="https://192.0.2.1/tracker.png">',
    )

    with pytest.raises(FatalURLFetchingError):
        convocation_pdf(confirmed, "fr")

    assert sent == []


def test_an_unknown_language_gives_french(confirmed):
    text = _text(convocation_pdf(confirmed, "xx"))

    assert text.count("lundi 5 juillet 2027") == 1


# --- The calendar entry -------------------------------------------------------------------------


def test_the_calendar_entry_has_its_time_zone_place_and_stable_uid(confirmed):
    with clock.at(datetime(2027, 6, 1, 12, 0, tzinfo=PARIS)):
        calendar = Calendar.from_ical(appointment_ics(confirmed, "fr"))

    assert calendar["VERSION"] == "2.0" and calendar["METHOD"] == "PUBLISH"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    (event,) = calendar.walk("VEVENT")
    assert event["UID"] == f"appointment-{confirmed.pk}@fairslot"
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event.decoded("DTSTART") == STARTS
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=2)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)
    assert event["LOCATION"] == "Préfecture de Grenoble, 12 place de Verdun, Grenoble"
    assert event.decoded("DTSTAMP") == datetime(2027, 6, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    # "Rendez-vous : ..." once the label pattern is translated, "Rendez-vous: ..." until then.
    assert re.fullmatch("Rendez-vous ?: Renouvellement de titre de séjour", str(event["SUMMARY"]))
    description = str(event["DESCRIPTION"])
    assert confirmed.entry.pseudonym in description
    assert "Apportez cette convocation et vos papiers d'identité" in description
    assert "lundi 5 juillet 2027 09:30" in description and "Référence" in description
    assert "- Justificatif de domicile de moins de 3 mois" in description


def test_the_calendar_entry_is_in_the_persons_language(confirmed):
    calendar = Calendar.from_ical(appointment_ics(confirmed, "ar"))

    (event,) = calendar.walk("VEVENT")
    assert f"{_long_date('ar')} 09:30" in str(event["DESCRIPTION"])


def test_the_calendar_entry_names_nobody(confirmed):
    body = appointment_ics(confirmed, "fr").decode()

    assert confirmed.entry.person.family_name not in body
    assert confirmed.entry.person.identifier not in body
    assert confirmed.entry.contact.value not in body


# --- The applicant's downloads ------------------------------------------------------------------


def test_the_owner_downloads_the_convocation_in_the_page_language(logged_in, confirmed):
    url = reverse("my-convocation-pdf", args=[confirmed.pk])

    response = logged_in.get(url, HTTP_ACCEPT_LANGUAGE="uk")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="convocation-{confirmed.entry.pseudonym}.pdf"'
    )
    assert {"no-store", "private"} <= set(response["Cache-Control"].split(", "))
    assert "Українська" in _text(response.content)
    page = logged_in.get(reverse("my-convocation", args=[confirmed.pk])).content.decode()
    assert url in page and reverse("my-appointment-ics", args=[confirmed.pk]) in page


def test_the_owner_downloads_the_calendar_entry(logged_in, confirmed):
    response = logged_in.get(
        reverse("my-appointment-ics", args=[confirmed.pk]), HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="rendez-vous-{confirmed.entry.pseudonym}.ics"'
    )
    assert {"no-store", "private"} <= set(response["Cache-Control"].split(", "))
    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert event.decoded("DTSTART") == STARTS


@pytest.mark.parametrize("name", ["my-convocation-pdf", "my-appointment-ics"])
def test_another_applicants_appointment_is_not_found(client, confirmed, name):
    session = client.session
    session["applicant_contact"] = ContactFactory(user=User.objects.create_user("other")).pk
    session.save()

    assert client.get(reverse(name, args=[confirmed.pk])).status_code == 404


@pytest.mark.parametrize("name", ["my-convocation-pdf", "my-appointment-ics"])
@pytest.mark.parametrize("state", [AppointmentState.OFFERED, AppointmentState.CANCELLED])
def test_an_appointment_not_confirmed_has_no_files(logged_in, confirmed, name, state):
    confirmed.state = state
    confirmed.save()

    assert logged_in.get(reverse(name, args=[confirmed.pk])).status_code == 404


@pytest.mark.parametrize("name", ["my-convocation-pdf", "my-appointment-ics"])
def test_without_a_session_the_files_send_to_log_in(client, confirmed, name):
    response = client.get(reverse(name, args=[confirmed.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("my-login")
