"""Every message in every language: translated, and as short as its alphabet allows (one
GSM-7 part for French and English, at most UCS2_MAX_PARTS UCS-2 parts for the others), counted
in parts by the SMS budget; each person's messages in their contact's language; reminders
two days before and on the eve, never twice."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import translation

from accounts import contacts, otp, sms_budget, sms_text
from accounts.models import AuditEvent, Contact, OutboxMessage, User
from booking.models import Appointment, AppointmentState, Entry
from lottery import clock, messages, reminders, services_offers
from lottery.messages import PARIS, UCS2_MAX_PARTS
from tests.factories import ContactFactory

LANGUAGES = [code for code, _name in settings.LANGUAGES]
# A production address of a realistic length: the SMS are measured with it.
SITE_URL = "https://rdv.prefecture-isere.fr"
LINK = SITE_URL + "/o/2bx9.AbCdEfGhIjKl/"
RULES_SHORT = SITE_URL + "/d/ISERE-2027-01"
RULES = SITE_URL + "/draws/ISERE-2027-01/#rules"
OFFER = messages.Offer(
    entry_id="7k3m9qx2" + "ab" * 12,
    starts_at=datetime(2027, 1, 12, 8, 30, tzinfo=UTC),
    site="Préfecture de l'Isère, accueil des étrangers",
    site_code="GRENOBLE",
    link=LINK,
    respond_by=datetime(2027, 1, 5, 17, 0, tzinfo=UTC),
    address="12 place de Verdun, 38000 Grenoble",
)
NOT_DRAWN = messages.NotDrawn(
    entry_id=OFFER.entry_id,
    rank=123456,
    next_weight=2,
    next_draw=date(2027, 2, 15),
    window_url=SITE_URL + "/draws/ISERE-2027-01/",
    rules_url=RULES,
    rules_short_url=RULES_SHORT,
)


def _all_sms() -> dict[str, str]:
    """Every SMS text, in the active language."""
    undated = messages.NotDrawn(**{**NOT_DRAWN.__dict__, "next_draw": None})
    return {
        "selected": messages.selected("phone", OFFER, RULES),
        "not drawn": messages.not_drawn("phone", NOT_DRAWN),
        "not drawn, no date": messages.not_drawn("phone", undated),
        "re-offer": messages.reoffer("phone", OFFER, RULES),
        "confirmed": messages.answered("phone", OFFER, "accept"),
        "declined": messages.answered("phone", OFFER, "decline"),
        "cancelled": messages.answered("phone", OFFER, "cancel"),
        "reminder": messages.reminder("phone", OFFER),
        "cancelled by the prefecture": messages.cancelled_by_prefecture(
            "phone", OFFER.entry_id, OFFER.starts_at
        ),
        "code": otp._message("123456", translation.get_language()),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sms_fits_the_parts_its_language_allows(language):
    with translation.override(language):
        texts = _all_sms()

    for name, text in texts.items():
        parts = sms_text.segments(text)
        if language in ("fr", "en"):
            assert sms_text.is_gsm7(text) and parts == 1, (name, len(text), text)
        else:
            assert 1 <= parts <= UCS2_MAX_PARTS, (name, parts, text)


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated(language):
    with translation.override("en"):
        english = _all_sms()
        english_mail = messages.selected("email", OFFER, RULES)
    with translation.override(language):
        translated = _all_sms()
        mail = messages.selected("email", OFFER, RULES)

    for name, text in translated.items():
        assert text != english[name], (language, name)
    assert mail != english_mail


def test_arabic_text_keeps_its_script_and_french_is_folded():
    with translation.override("ar"):
        arabic = messages.reminder("phone", OFFER)
    with translation.override("fr"):
        french = messages.reminder("phone", OFFER)

    assert any("\u0600" <= char <= "\u06ff" for char in arabic)
    assert not sms_text.is_gsm7(arabic)
    assert french.isascii() and "Prefecture de l'Isere" in french


def test_segments_are_counted_by_alphabet():
    assert sms_text.segments("a" * 160) == 1
    assert sms_text.segments("a" * 161) == 2
    assert sms_text.segments("{" * 80) == 1 and sms_text.segments("{" * 81) == 2  # two septets
    assert sms_text.segments("a" * 306) == 2 and sms_text.segments("a" * 307) == 3
    assert sms_text.segments("ب" * 70) == 1 and sms_text.segments("ب" * 71) == 2
    assert sms_text.segments("ب" * 134) == 2 and sms_text.segments("ب" * 135) == 3
    assert sms_text.segments("é" * 10) == 1  # é is in the GSM-7 basic set
    assert sms_text.segments("ê") == 1 and not sms_text.is_gsm7("ê")  # ê is not
    assert sms_text.segments("") == 0


@pytest.mark.django_db
def test_the_sms_budget_counts_parts_not_messages(settings):
    settings.SMS_DAILY_BUDGET = 10
    settings.SMS_VERIFIED_SHARE = 0.0

    sms_budget.check_sms(country_code=33, verified=False, segments=3)
    sms_budget.check_sms(country_code=33, verified=False, segments=3)
    sms_budget.check_sms(country_code=33, verified=False, segments=3)
    with pytest.raises(Exception) as refused:
        sms_budget.check_sms(country_code=33, verified=False, segments=2)  # 9 + 2 > 10

    assert refused.value.code == "sms_budget"
    sms_budget.check_sms(country_code=33, verified=False, segments=1)  # 9 + 1 = 10: allowed


# --- Each person in their own language ----------------------------------------------------------


@pytest.fixture
def drawn(timeline):
    """A published draw: the entries share three contacts, in Arabic, Ukrainian and French."""
    life = timeline(entries=9, slots=3)
    contacts = []
    for language in ("ar", "uk", "fr"):
        contact = ContactFactory(user=User.objects.create_user(username=f"a-{language}"))
        Contact.objects.filter(pk=contact.pk).update(language=language)
        contacts.append(contact)
    for i, entry in enumerate(Entry.objects.filter(window=life.window).order_by("pk")):
        Entry.objects.filter(pk=entry.pk).update(contact=contacts[i % 3])
    life.run_all()
    return life


SCRIPTS = {"ar": "[\u0600-\u06ff]", "uk": "[\u0400-\u04ff]", "fr": "algorithme"}


@pytest.mark.django_db
def test_outcomes_are_written_in_each_contacts_language(drawn):
    for entry in Entry.objects.filter(window=drawn.window).select_related("contact"):
        body = OutboxMessage.objects.get(dedup_key=f"outcome:{entry.entry_id}").body
        assert re.search(SCRIPTS[entry.contact.language], body), (entry.contact.language, body)


@pytest.mark.django_db
def test_the_not_drawn_message_gives_rank_next_weight_and_rules(drawn):
    waiting = Entry.objects.filter(window=drawn.window, status="waiting", contact__language="fr")
    entry = waiting.select_related("contact").first()

    body = OutboxMessage.objects.get(dedup_key=f"outcome:{entry.entry_id}").body

    assert str(entry.rank) in body
    assert f" {min(4, entry.weight + 1)}" in body
    assert body.endswith(f"/d/{drawn.window.code}")


@pytest.mark.django_db
def test_an_answer_is_confirmed_in_the_persons_language(drawn):
    offer = Appointment.objects.filter(
        entry__window=drawn.window, state=AppointmentState.OFFERED
    ).first()
    Contact.objects.filter(entries__appointments=offer).update(language="ar")

    services_offers.accept_offer(appointment_id=offer.pk)

    body = OutboxMessage.objects.get(dedup_key=f"answer:accept:{offer.pk}").body
    assert any("\u0600" <= char <= "\u06ff" for char in body)


@pytest.mark.django_db
def test_logging_in_in_a_language_makes_it_the_contacts(drawn):
    contact = Contact.objects.get(language="fr", user__username="a-fr")

    contacts.remember_language(contact, "ti", actor="applicant")
    assert Contact.objects.get(pk=contact.pk).language == "ti"
    assert AuditEvent.objects.filter(action="contact.language_set", data__language="ti").exists()

    contacts.remember_language(contact, "xx", actor="applicant")  # unknown: the default
    assert Contact.objects.get(pk=contact.pk).language == contact.language == "fr"


# --- Reminders ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reminders_go_two_days_before_and_on_the_eve_never_twice(drawn):
    offers = Appointment.objects.filter(
        entry__window=drawn.window, state=AppointmentState.OFFERED
    ).select_related("slot")
    for offer in offers:
        services_offers.accept_offer(appointment_id=offer.pk)
    starts = min(offer.slot.starts_at for offer in offers).astimezone(PARIS)
    on_day = [o for o in offers if o.slot.starts_at.astimezone(PARIS).date() == starts.date()]

    def at(days_before: int, hour: int):
        day = starts.date() - timedelta(days=days_before)
        return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS)

    assert reminders.send_due_reminders(at(3, 10))[2] == 0
    assert reminders.send_due_reminders(at(2, 7)) == {2: 0, 1: 0}  # not at night
    first = reminders.send_due_reminders(at(2, 10))
    again = reminders.send_due_reminders(at(2, 15))
    eve = reminders.send_due_reminders(at(1, 10))

    assert first[2] == len(on_day) and again[2] == 0
    assert eve[1] == len(on_day)
    keys = OutboxMessage.objects.filter(dedup_key__startswith="reminder:")
    assert keys.count() == 2 * len(on_day)


@pytest.mark.django_db
def test_a_cancelled_appointment_gets_no_reminder(drawn):
    offer = Appointment.objects.filter(
        entry__window=drawn.window, state=AppointmentState.OFFERED
    ).first()
    services_offers.accept_offer(appointment_id=offer.pk)
    services_offers.cancel_appointment(appointment_id=offer.pk)
    day = offer.slot.starts_at.astimezone(PARIS).date() - timedelta(days=1)

    with clock.at(datetime(day.year, day.month, day.day, 12, tzinfo=PARIS)):
        reminders.send_due_reminders()

    assert not OutboxMessage.objects.filter(dedup_key=f"reminder:1:{offer.pk}").exists()
