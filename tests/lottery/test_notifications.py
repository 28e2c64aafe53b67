"""Outcome messages: written to the outbox at publication, once, with the CRPA mention."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEvent, Contact, ContactKind, OutboxMessage, User
from booking.models import Appointment, Entry, EntryStatus
from lottery import messages, notifications, offer_links, services
from lottery.models import Draw
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def _give_contacts(life, phones: int, emails: int) -> dict[str, tuple[str, str]]:
    """Contacts for the first entries (the others have none): entry_id -> (channel, value)."""
    given = {}
    for i, entry in enumerate(life.entries[: phones + emails]):
        user = User.objects.create_user(username=f"applicant{i}")
        if i < phones:
            contact = ContactFactory(user=user)
        else:
            contact = ContactFactory(user=user, kind=ContactKind.EMAIL, value=f"a{i}@example.org")
        Entry.objects.filter(pk=entry.pk).update(contact=contact)
        given[entry.entry_id] = (contact.kind, contact.value)
    return given


def _outcomes() -> dict[str, OutboxMessage]:
    messages = OutboxMessage.objects.filter(dedup_key__startswith="outcome:")
    return {message.dedup_key.removeprefix("outcome:"): message for message in messages}


def _hold_checks(monkeypatch):
    monkeypatch.setattr(
        "lottery.services_run.run_checks",
        lambda rows, positions: {"passed": False, "spearman": {}, "groups": []},
    )


def test_publication_enqueues_one_message_per_entry_with_a_contact(timeline):
    life = timeline(entries=20, slots=8)
    given = _give_contacts(life, phones=6, emails=4)

    life.run_all()

    sent = {key: (m.channel, m.recipient) for key, m in _outcomes().items()}
    assert sent == given
    assert {m.subject for m in _outcomes().values()} == {"Fairslot"}
    notified = AuditEvent.objects.get(action="draw.notified")
    assert notified.data["messages"] == 10
    assert Draw.objects.get(window=life.window).notified_messages == 10


def test_the_draw_alone_sends_nothing(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=10, emails=0)
    life.close_and_freeze()
    life.reveal_operator()

    assert life.draw() == "drawn"
    assert _outcomes() == {}


def test_held_draw_notifies_nobody_until_reviewed_and_published(timeline, supervisor, monkeypatch):
    _hold_checks(monkeypatch)
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=5, emails=5)
    life.close_and_freeze()
    life.reveal_operator()
    assert life.draw() == "held"

    assert services.publish_draw(window_id=life.window_id) is False
    assert _outcomes() == {}

    services.review_draw(window_id=life.window_id, actor=supervisor, approve=True, note="ok")
    assert services.publish_draw(window_id=life.window_id) is True
    assert len(_outcomes()) == 10


def test_publishing_twice_adds_no_message(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=5, emails=5)
    life.run_all()
    first = {key: m.pk for key, m in _outcomes().items()}

    again = services.publish_draw(window_id=life.window_id)
    Draw.objects.filter(window=life.window).update(notified_at=None, notified_through=None)
    rewritten = services.notify_outcomes(window_id=life.window_id)  # a crash lost the cursor

    assert again is False
    assert {key: m.pk for key, m in _outcomes().items()} == first
    assert OutboxMessage.objects.count() == 10
    assert rewritten == 0  # counted as written only once
    assert Draw.objects.get(window=life.window).notified_messages == 10


def test_messages_are_inserted_in_batches_not_one_per_entry(timeline, monkeypatch):
    life = timeline(entries=12, slots=4)
    _give_contacts(life, phones=12, emails=0)
    monkeypatch.setattr(notifications, "BATCH_SIZE", 5)
    batches = []
    original = OutboxMessage.objects.bulk_create

    def counting(objs, **kwargs):
        batches.append(len(objs))
        return original(objs, **kwargs)

    monkeypatch.setattr(OutboxMessage.objects, "bulk_create", counting)

    life.run_all()

    assert batches == [5, 5, 2]
    assert len(_outcomes()) == 12


def test_selected_sms_gives_date_time_site_confirm_link_and_rules(timeline, settings):
    settings.SITE_URL = "https://rdv.fr"  # room for the whole site name in 160 characters
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=10, emails=0)
    life.run_all()
    appointment = Appointment.objects.select_related("entry", "slot__site").first()

    body = _outcomes()[appointment.entry.entry_id].body

    local = appointment.slot.starts_at.astimezone(PARIS)
    rules = settings.SITE_URL + reverse("draw-short", args=[life.window.code])
    assert appointment.entry.pseudonym in body
    assert f"{local:%d/%m %H:%M}, {appointment.slot.site.name}." in body
    assert body.endswith(offer_links.url(appointment))  # answer and rules on that page
    assert rules not in body


def test_waiting_sms_says_not_drawn_and_links_the_rules(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=10, emails=0)
    life.run_all()
    waiting = Entry.objects.filter(window=life.window, status=EntryStatus.WAITING).first()

    body = _outcomes()[waiting.entry_id].body

    assert waiting.pseudonym in body
    assert settings.SITE_URL + reverse("my-entries") not in body
    assert body.endswith(settings.SITE_URL + reverse("draw-short", args=[life.window.code]))


def _sms_bodies(life) -> list[str]:
    _give_contacts(life, phones=10, emails=0)
    life.run_all()
    return [m.body for m in _outcomes().values()]


def test_sms_source_texts_fit_in_one_gsm7_part(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=10, emails=0)
    Contact.objects.update(language="en")
    life.run_all()
    bodies = [m.body for m in _outcomes().values()]

    assert len(bodies) == 10
    assert all(len(body) <= 160 and body.isascii() for body in bodies), bodies


def test_sms_in_french_fit_in_one_gsm7_part(timeline):
    bodies = _sms_bodies(timeline(entries=10, slots=4))

    assert len(bodies) == 10
    assert all(len(body) <= 160 and body.isascii() for body in bodies), bodies


def _offer(site: str, code: str, link: str = "https://rdv.example/o/1.abcdefghijkl/"):
    return messages.Offer(
        entry_id="ab" * 16,
        starts_at=datetime(2026, 3, 12, 8, 30, tzinfo=UTC),
        site=site,
        site_code=code,
        link=link,
    )


def test_long_accented_site_name_is_folded_and_shortened_in_the_sms():
    name = "Sous-préfecture de Saint-Jean-de-Maurienne, guichet des étrangers"
    rules = "https://rdv.example/draws/X/#rules"

    with translation.override("en"):
        sms = messages.selected("phone", _offer(name, "MAURIENNE"), rules)
        email = messages.selected("email", _offer(name, "MAURIENNE"), rules)

    assert len(sms) <= 160
    assert sms.isascii()
    assert "12/03 09:30, Sous-prefecture de Saint-Jean-de-M. Decision by algorithm." in sms
    assert sms.endswith("Answer and rules: https://rdv.example/o/1.abcdefghijkl/")
    assert f"on 12/03/2026 at 09:30, at {name}." in email
    assert rules in email


def test_site_code_replaces_a_name_with_no_room_in_the_sms():
    offer = _offer("Guichet des étrangers", "VIENNE", "https://rdv.example/" + "m" * 60)

    with translation.override("en"):
        sms = messages.selected("phone", offer, "")

    assert "12/03 09:30, VIENNE. Decision" in sms


def test_short_rules_link_leads_to_the_public_page(window, anonymous):
    response = anonymous.get(reverse("draw-short", args=[window.code]))

    assert (response.status_code, response["Location"]) == (
        302,
        reverse("draw-detail", args=[window.code]),
    )


def test_messages_hold_no_identity_data(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=5, emails=5)
    life.run_all()

    bodies = "\n".join(m.body for m in _outcomes().values())

    for entry in Entry.objects.filter(window=life.window).select_related("person"):
        person = entry.person
        for private in (person.identifier, person.family_name, person.birth_date):
            assert private not in bodies
    assert "Canary" not in bodies  # the factory's given name


def test_email_gives_the_full_entry_id_and_the_rules(timeline):
    life = timeline(entries=10, slots=4)
    given = _give_contacts(life, phones=0, emails=10)
    life.run_all()

    entry_id = next(iter(given))
    body = _outcomes()[entry_id].body

    assert entry_id in body
    assert settings.SITE_URL + reverse("draw-detail", args=[life.window.code]) in body


def test_selected_email_gives_the_answer_deadline_counted_from_publication(timeline):
    life = timeline(entries=10, slots=4)
    _give_contacts(life, phones=0, emails=10)
    life.run_all()
    offer = Appointment.objects.select_related("entry").filter(state="offered").first()

    body = _outcomes()[offer.entry.entry_id].body

    assert f"{offer.respond_by.astimezone(PARIS):%d/%m/%Y %H:%M}" in body
    assert "Confirmez-le avant le" in body  # in French, the applicants' default


def test_a_large_publication_notifies_in_batches_across_ticks(timeline, monkeypatch):
    from lottery.services_tick import tick_draws

    life = timeline(entries=12, slots=4)
    _give_contacts(life, phones=12, emails=0)
    monkeypatch.setattr(notifications, "BATCH_SIZE", 5)
    monkeypatch.setattr(services, "NOTIFY_BUDGET_SECONDS", 0)  # no batch in the publication
    life.run_all()
    draw = Draw.objects.get(window=life.window)
    assert (draw.state, draw.notified_at, _outcomes()) == ("published", None, {})

    monkeypatch.setattr(services, "NOTIFY_BUDGET_SECONDS", 60)
    assert services.notify_outcomes(window_id=life.window_id, time_budget=0) == 0
    assert tick_draws()["notified"] == 12  # batches of 5, 5, 2: resumes where it stopped

    draw.refresh_from_db()
    assert draw.notified_at is not None and draw.notified_messages == 12
    assert len(_outcomes()) == 12
    assert tick_draws()["notified"] == 0  # done once
