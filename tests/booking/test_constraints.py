"""Fairness rules are database constraints, checked under real concurrency on PostgreSQL."""

import threading

import pytest
from django.db import IntegrityError, transaction

from booking.models import Appointment, Entry, EntryStatus
from tests.conftest import run_concurrently
from tests.factories import (
    AppointmentFactory,
    EntryFactory,
    PersonFactory,
    SlotFactory,
    WindowFactory,
)


def test_second_active_entry_same_person_procedure_is_refused(db):
    entry = EntryFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        EntryFactory(window=entry.window, person=entry.person)
    assert Entry.objects.filter(person=entry.person).count() == 1


def test_withdrawn_entry_frees_the_person_for_a_new_one(db):
    entry = EntryFactory(status=EntryStatus.WITHDRAWN)

    again = EntryFactory(window=entry.window, person=entry.person)

    assert again.status == EntryStatus.REGISTERED


def test_second_holding_appointment_on_a_slot_is_refused(db):
    appointment = AppointmentFactory()
    other = EntryFactory(window=appointment.entry.window)

    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(entry=other, slot=appointment.slot)
    assert Appointment.objects.filter(slot=appointment.slot).count() == 1


def _insert_after_pause(pause: threading.Event, create):
    """Insert inside a transaction that stays open until `pause` is set, so that the other
    thread's insert overlaps with it for real."""

    def run():
        with transaction.atomic():
            obj = create()
            pause.wait(2)
        return obj.pk

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_entries_for_one_person_exactly_one_succeeds():
    window = WindowFactory()
    person = PersonFactory()
    procedure = window.procedures.first()
    pause = threading.Event()
    threading.Timer(0.5, pause.set).start()
    create = _insert_after_pause(
        pause, lambda: Entry.objects.create(window=window, procedure=procedure, person=person)
    )

    outcomes = run_concurrently(create, create)

    errors = [exc for _, exc in outcomes if exc is not None]
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError)
    assert Entry.objects.filter(person=person).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appointments_on_one_slot_exactly_one_succeeds():
    slot = SlotFactory()
    first, second = (EntryFactory(window=slot.window) for _ in range(2))
    pause = threading.Event()
    threading.Timer(0.5, pause.set).start()

    outcomes = run_concurrently(
        _insert_after_pause(pause, lambda: Appointment.objects.create(entry=first, slot=slot)),
        _insert_after_pause(pause, lambda: Appointment.objects.create(entry=second, slot=slot)),
    )

    errors = [exc for _, exc in outcomes if exc is not None]
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError)
    assert Appointment.objects.filter(slot=slot).count() == 1
