"""Retention (booking.retention): each rule just before and just after its limit, the counts,
idempotence and the audit row. Runs on PostgreSQL too, under the frozen-input triggers."""

from datetime import timedelta

import pytest

from accounts import contacts, otp
from accounts.models import AuditEvent, Contact, OutboxMessage, OutboxState, Person, User
from accounts.outbox import enqueue_message
from booking import retention
from booking.models import HOLDING_STATES, Appointment, Entry, EntryStatus, PendingRegistration
from booking.tasks import purge_expired_data
from lottery.models import Draw
from tests.booking.test_registration import _start
from tests.factories import ContactFactory, EntryFactory, WindowFactory
from tests.lottery.conftest import Timeline

MINUTE = timedelta(minutes=1)


def _months_after(moment, months):
    return retention.months_before(moment, -months)


def _contact(name: str) -> Contact:
    return ContactFactory(user=User.objects.create_user(username=name))


def _erased(model, pk) -> bool:
    row = model.objects.get(pk=pk)
    return (row.identity_hash if model is Person else row.value_hash).startswith("erased:")


# --- (a) Codes and unfinished registrations ---------------------------------------------------


def test_codes_are_forgotten_a_day_after_they_expire(db):
    contact = contacts.get_or_create_contact(kind="phone", value="+33612345678")
    otp.issue_code(contact=contact)
    device = contact.device
    device.refresh_from_db()
    message = OutboxMessage.objects.get(dedup_key__startswith="otp:")
    expired = device.valid_until + timedelta(hours=24)

    before = retention.purge(now=expired - MINUTE)
    device.refresh_from_db()
    kept = (device.token, OutboxMessage.objects.filter(pk=message.pk).exists())
    after = retention.purge(now=expired + MINUTE)
    device.refresh_from_db()

    assert (before["codes"], before["code_messages"]) == (0, 0)
    assert kept[0] is not None and kept[1]
    assert (after["codes"], after["code_messages"]) == (1, 1)
    assert device.token is None
    assert not OutboxMessage.objects.filter(pk=message.pk).exists()
    assert Contact.objects.get(pk=contact.pk).value == "+33612345678"  # no entry: left alone


def test_unfinished_registrations_are_deleted_a_day_after_they_lapse(window):
    pending = _start(window)
    lapsed = pending.created_at + timedelta(days=2)

    before = retention.purge(now=lapsed - MINUTE)
    after = retention.purge(now=lapsed + MINUTE)

    assert before["pending_registrations"] == 0
    assert after["pending_registrations"] == 1
    assert not PendingRegistration.objects.filter(pk=pending.pk).exists()


# --- (b) and (c) after a draw -----------------------------------------------------------------


@pytest.fixture
def drawn(prefecture):
    """A published draw: two entries with an offer (a slot), two on the waiting list; one
    contact for one of each, and a contact whose person registered again in a newer window."""
    life = Timeline(prefecture, entries=4, slots=2)
    life.run_all()
    holding = Entry.objects.filter(window=life.window, appointments__state__in=HOLDING_STATES)
    slotted = holding.order_by("rank").first()
    waiting = list(Entry.objects.filter(window=life.window, status=EntryStatus.WAITING))
    contacts = {name: _contact(name) for name in ("slot", "wait", "again")}
    Entry.objects.filter(pk=slotted.pk).update(contact=contacts["slot"])
    Entry.objects.filter(pk=waiting[0].pk).update(contact=contacts["wait"])
    # Carried to a newer window, still open: the person and the contact stay live.
    Entry.objects.filter(pk=waiting[1].pk).update(
        contact=contacts["again"], status=EntryStatus.CARRIED
    )
    newer = WindowFactory(prefecture=prefecture, procedures=[life.procedure])
    EntryFactory(
        window=newer,
        procedure=life.procedure,
        person=waiting[1].person,
        contact=contacts["again"],
        contact_seat=1,
        carried_from=waiting[1],
    )
    draw = Draw.objects.get(window=life.window)
    appointment = Appointment.objects.select_related("slot").get(
        entry=slotted, state__in=HOLDING_STATES
    )
    return {
        "life": life,
        "draw": draw,
        "slotted": slotted,
        "waiting": waiting,
        "contacts": contacts,
        "no_slot_limit": _months_after(draw.drawn_at + timedelta(days=15), 2),
        "slot_limit": _months_after(appointment.slot.starts_at, 2),
    }


def test_identity_of_an_entry_without_a_slot_is_erased_after_draw_plus_2_months_15_days(drawn):
    waiting = drawn["waiting"][0]

    before = retention.purge(now=drawn["no_slot_limit"] - MINUTE)
    kept = _erased(Person, waiting.person_id)
    after = retention.purge(now=drawn["no_slot_limit"] + MINUTE)

    assert (before["identities"], kept) == (0, False)
    assert after["identities"] == 1  # the other one without a slot was carried over
    person = Person.objects.get(pk=waiting.person_id)
    assert person.identity_hash == f"erased:{person.pk}"
    assert (person.identifier, person.family_name, person.given_names) == ("", "", "")
    assert (person.birth_date, person.nationality, person.likeness_hash) == ("", "", "")


def test_a_newer_entry_or_a_slot_keeps_the_identity(drawn):
    retention.purge(now=drawn["no_slot_limit"] + timedelta(days=400))

    assert not _erased(Person, drawn["waiting"][1].person_id)  # registered again since
    assert not _erased(Person, drawn["slotted"].person_id)  # got a slot
    assert Person.objects.get(pk=drawn["slotted"].person_id).identifier


def test_contact_of_someone_without_a_slot_is_erased_with_the_identity(drawn):
    contacts = drawn["contacts"]

    retention.purge(now=drawn["no_slot_limit"] - MINUTE)
    kept = _erased(Contact, contacts["wait"].pk)
    after = retention.purge(now=drawn["no_slot_limit"] + MINUTE)

    assert (after["contacts"], kept) == (1, False)
    assert _erased(Contact, contacts["wait"].pk)
    assert Contact.objects.get(pk=contacts["wait"].pk).value == ""
    assert not _erased(Contact, contacts["again"].pk)  # its newer entry is live


def test_contact_of_someone_with_a_slot_is_erased_2_months_after_the_appointment(drawn):
    slot = drawn["contacts"]["slot"]
    enqueue_message(
        channel="phone",
        recipient=slot.value,
        body="Fairslot: an appointment for you",
        dedup_key=f"outcome:{drawn['slotted'].entry_id}",
    )
    offer = OutboxMessage.objects.get(dedup_key=f"outcome:{drawn['slotted'].entry_id}")

    before = retention.purge(now=drawn["slot_limit"] - MINUTE)
    kept = _erased(Contact, slot.pk)
    after = retention.purge(now=drawn["slot_limit"] + MINUTE)

    assert (before["contacts"], kept) == (0, False)
    assert after["contacts"] >= 1 and _erased(Contact, slot.pk)
    contact = Contact.objects.get(pk=slot.pk)
    assert contact.value == ""
    assert User.objects.get(pk=contact.user_id).username == f"erased-c{slot.pk}"
    offer.refresh_from_db()
    assert (offer.recipient, offer.body) == ("", "")
    assert offer.state not in (OutboxState.PENDING, OutboxState.SENDING)
    assert after["contact_messages"] >= 1


def test_every_kind_of_message_of_an_appointment_is_erased_and_only_its_own(drawn):
    mine = drawn["slotted"].appointments.get().pk
    other = Appointment.objects.exclude(entry=drawn["slotted"]).first().pk
    keys = [f"offer:{mine}", f"cancel:{mine}", f"answer:accept:{mine}", f"reminder:1:{mine}"]
    theirs = [f"reminder:1:{other}", f"offer:{other}", f"offer:{mine}0", f"answer:x:1{mine}"]
    for key in keys + theirs:
        enqueue_message(channel="phone", recipient="+33600000000", body=key, dedup_key=key)

    retention.purge(now=drawn["slot_limit"] + MINUTE)

    bodies = dict(OutboxMessage.objects.values_list("dedup_key", "body"))
    assert [bodies[key] for key in keys] == [""] * len(keys)
    assert [bodies[key] for key in theirs] == theirs


def test_an_erased_phone_can_log_in_again_as_a_new_contact(drawn):
    slot = drawn["contacts"]["slot"]
    phone = slot.value
    retention.purge(now=drawn["slot_limit"] + MINUTE)

    again = otp.start_login(kind="phone", value=phone, client_ip="10.0.0.1", proof_ok=True)

    assert again.pk != slot.pk and again.value == phone


def test_the_draw_record_is_untouched(drawn):
    window = drawn["life"].window
    columns = ("entry_id", "tier", "weight", "status", "rank", "person_id", "contact_id")
    entries_before = list(Entry.objects.filter(window=window).order_by("pk").values(*columns))
    draw_before = Draw.objects.values("entries_digest", "slots_digest", "results_digest").get(
        pk=drawn["draw"].pk
    )

    retention.purge(now=drawn["no_slot_limit"] + timedelta(days=400))

    assert list(Entry.objects.filter(window=window).order_by("pk").values(*columns)) == (
        entries_before
    )
    assert (
        Draw.objects.values("entries_digest", "slots_digest", "results_digest").get(
            pk=drawn["draw"].pk
        )
        == draw_before
    )


def test_purge_is_idempotent_and_audited(drawn):
    later = drawn["no_slot_limit"] + timedelta(days=400)

    first = retention.purge(now=later)
    second = retention.purge(now=later)

    assert first["identities"] >= 1 and first["contacts"] >= 1
    assert second == dict.fromkeys(retention.COUNT_NAMES, 0)
    rows = list(AuditEvent.objects.filter(action="retention.purged").order_by("seq"))
    assert len(rows) == 2
    assert {name: rows[0].data[name] for name in retention.COUNT_NAMES} == first
    assert rows[0].actor_label == "pytest"


def test_the_task_purges_and_names_itself_in_the_audit_row(db):
    counts = purge_expired_data.apply().get()

    assert counts == dict.fromkeys(retention.COUNT_NAMES, 0)
    row = AuditEvent.objects.get(action="retention.purged")
    assert row.actor_label == "purge_expired_data"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2027-03-31T12:00:00+00:00", "2027-01-31T12:00:00+00:00"),
        ("2027-04-30T12:00:00+00:00", "2027-02-28T12:00:00+00:00"),
        ("2027-01-15T00:00:00+00:00", "2026-11-15T00:00:00+00:00"),
    ],
)
def test_months_are_calendar_months(moment, expected):
    from datetime import datetime

    assert retention.months_before(datetime.fromisoformat(moment), 2) == (
        datetime.fromisoformat(expected)
    )
