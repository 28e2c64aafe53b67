"""Every time that proves something (registration, freeze, reveal, draw, answer, check-in) comes
from the database's clock, not the process's: here a process whose clock is a year behind (as
time_machine sets it: Python's clock only, not the database server's nor SQLite's) still records
the database's time, so web and worker processes on machines whose clocks differ agree."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts import audit
from booking import checkin
from booking.checkin_token import PARIS
from booking.models import Appointment, AppointmentState, Entry, WindowState
from booking.services import advance_window
from lottery import clock, services, services_offers, services_reveal
from lottery.models import Draw, DrawParty
from tests.factories import AppointmentFactory, EntryFactory, SiteFactory, SlotFactory

pytestmark = pytest.mark.django_db

A_YEAR = timedelta(days=365)


def _assert_database_time(moment: datetime, real: datetime) -> None:
    assert abs(moment - real) < timedelta(minutes=5), (moment, real)


@pytest.fixture
def process_clock_a_year_behind():
    real = datetime.now(UTC)
    with time_machine.travel(real - A_YEAR, tick=True):
        assert datetime.now(UTC) < real - A_YEAR / 2  # the process's clock is a year behind
        yield real


def test_registration_time_is_the_database_time(window, process_clock_a_year_behind):
    entry = EntryFactory(window=window)

    _assert_database_time(entry.created_at, process_clock_a_year_behind)
    _assert_database_time(Entry.objects.get(pk=entry.pk).created_at, process_clock_a_year_behind)


def test_freeze_and_reveal_times_are_the_database_time(timeline):
    life = timeline(entries=6, slots=2, reveal_deadline=datetime.now(UTC) + timedelta(hours=1))
    real = datetime.now(UTC)
    with time_machine.travel(real - A_YEAR, tick=True):
        advance_window(window_id=life.window_id, to_state=WindowState.CLOSED)
        services.freeze_draw(window_id=life.window_id)
        services_reveal.reveal_operator_secret(window_id=life.window_id)

    draw = Draw.objects.select_related("window").get(window_id=life.window_id)
    _assert_database_time(draw.frozen_at, real)
    _assert_database_time(draw.window.frozen_at, real)
    _assert_database_time(DrawParty.objects.get(draw=draw, is_operator=True).revealed_at, real)


def test_draw_and_answer_times_are_the_database_time(timeline):
    life = timeline(entries=6, slots=2)
    life.close_and_freeze()
    life.reveal_operator()
    real = datetime.now(UTC)
    with time_machine.travel(real - A_YEAR, tick=True):
        life.draw()
        services.publish_draw(window_id=life.window_id)
        offer = Appointment.objects.filter(slot__window_id=life.window_id).first()
        services_offers.accept_offer(appointment_id=offer.pk)

    draw = Draw.objects.get(window_id=life.window_id)
    offer.refresh_from_db()
    for moment in (draw.drawn_at, draw.published_at, offer.offered_at, offer.state_changed_at):
        _assert_database_time(moment, real)
    assert offer.state == AppointmentState.CONFIRMED


def test_check_in_time_is_the_database_time(window, agent, process_clock_a_year_behind):
    # The desk's "today" is the process's (a year ago here): the appointment is on that day.
    site = SiteFactory(prefecture=window.prefecture)
    starts_at = datetime.combine(checkin.today(), datetime.min.time(), tzinfo=PARIS)
    slot = SlotFactory(window=window, site=site, starts_at=starts_at + timedelta(hours=10))
    appointment = AppointmentFactory(
        entry=EntryFactory(window=window), slot=slot, state=AppointmentState.CONFIRMED
    )

    checked = checkin.check_in(appointment_id=appointment.pk, actor=agent, desk="S1")

    _assert_database_time(checked.checked_in_at, process_clock_a_year_behind)


def test_the_draw_clock_reads_the_database(process_clock_a_year_behind):
    _assert_database_time(audit.database_now(), process_clock_a_year_behind)
    _assert_database_time(clock.now(), process_clock_a_year_behind)
    fixed = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with clock.at(fixed):  # the demo and the tests walk a timeline at fixed moments
        assert clock.now() == fixed
