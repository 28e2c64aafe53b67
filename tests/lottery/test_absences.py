"""Absences: confirmed appointments whose time passed without a check-in become no-shows, by
the evening task and by hand from the day list; each is an events.log line `no_show` that the
replay accepts, an audit row, and a count on the person; a window's published rule says
whether it lowers the weight, off by default."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings

from accounts.models import AuditEvent, Person
from booking import checkin, day_list
from booking.checkin_token import Refusal, TokenRefused, make_token, read_token
from booking.models import Appointment, AppointmentState, Entry, EntryStatus
from config.celery import app as celery_app
from config.errors import DomainError
from lottery import absences, clock, kit, services_offers
from lottery import services as lottery_services
from lottery.models import BeaconMode, Draw
from lottery.tasks import task_mark_absences
from tests.conftest import run_concurrently
from tests.factories import (
    AppointmentFactory,
    EntryFactory,
    SiteFactory,
    SlotFactory,
    WindowFactory,
)
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def confirmed(timeline):
    """A published draw (6 entries, 3 slots on one day): its three offers accepted."""
    life = timeline(entries=6, slots=3)
    life.run_all()
    offers = list(Appointment.objects.filter(entry__window=life.window).order_by("slot__starts_at"))
    for offer in offers:
        services_offers.accept_offer(appointment_id=offer.pk)
    life.appointments = [Appointment.objects.get(pk=offer.pk) for offer in offers]
    return life


def _events(life) -> list[list[str]]:
    data = kit.kit_files(Draw.objects.get(window=life.window)).get("events.log", b"").decode()
    return [line.split(",") for line in data.splitlines()]


def _states(appointments) -> list[str]:
    return [Appointment.objects.get(pk=a.pk).state for a in appointments]


def _after(appointment, minutes=1):
    return appointment.slot.starts_at + timedelta(minutes=minutes)


# --- By the task ------------------------------------------------------------------------------


def test_task_marks_past_confirmed_appointments_absent_and_the_log_replays(confirmed):
    first, second, third = confirmed.appointments

    with clock.at(_after(second)):
        marked = task_mark_absences.apply().get()

    people = [Person.objects.get(pk=a.entry.person_id) for a in (first, second, third)]
    rows = AuditEvent.objects.filter(action="offer.no_show").order_by("seq")
    assert marked == 2
    assert _states(confirmed.appointments) == [
        AppointmentState.NO_SHOW,
        AppointmentState.NO_SHOW,
        AppointmentState.CONFIRMED,
    ]
    assert [(e[2], e[3], e[4]) for e in _events(confirmed)] == [
        ("no_show", a.slot.code, a.entry.entry_id) for a in (first, second)
    ]
    assert [p.absences for p in people] == [1, 1, 0]
    assert people[0].last_absence_at == _after(second).replace(microsecond=0)
    assert [(r.actor_label, r.reference) for r in rows] == [
        ("task_mark_absences", a.entry.pseudonym) for a in (first, second)
    ]
    assert_replays(kit.kit_files(Draw.objects.get(window=confirmed.window)))


def test_task_leaves_checked_in_appointments_alone_and_runs_twice_harmlessly(confirmed):
    first, _second, third = confirmed.appointments
    Appointment.objects.filter(pk=first.pk).update(
        state=AppointmentState.CHECKED_IN, checked_in_at=first.slot.starts_at, checkin_desk="1"
    )

    with clock.at(_after(third)):
        runs = [absences.mark_due_absences(), absences.mark_due_absences()]

    assert runs == [2, 0]
    assert _states(confirmed.appointments) == [
        AppointmentState.CHECKED_IN,
        AppointmentState.NO_SHOW,
        AppointmentState.NO_SHOW,
    ]
    assert len(_events(confirmed)) == 2
    assert Person.objects.get(pk=first.entry.person_id).absences == 0


def test_task_marks_in_batches_with_one_line_each(confirmed):
    with clock.at(_after(confirmed.appointments[-1])):
        marked = absences.mark_due_absences(batch_size=2)

    assert marked == 3
    assert [e[0] for e in _events(confirmed)] == ["1", "2", "3"]
    assert_replays(kit.kit_files(Draw.objects.get(window=confirmed.window)))


def test_absence_task_is_scheduled_every_evening_at_eight_paris_time():
    entry = django_settings.CELERY_BEAT_SCHEDULE["mark-absences"]

    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == crontab(hour=20, minute=0)
    assert str(celery_app.timezone) == "Europe/Paris"


# --- By hand ----------------------------------------------------------------------------------


def _absent_url(appointment) -> str:
    return f"/staff/appointments/{appointment.pk}/absent/"


def test_agent_marks_an_absence_after_its_time_from_the_day_list(confirmed, agent, login_otp):
    first = confirmed.appointments[0]
    day = first.slot.starts_at.astimezone(PARIS).date()
    client = login_otp(agent)

    with clock.at(_after(first, minutes=20)):
        response = client.post(_absent_url(first))

    event = AuditEvent.objects.get(action="offer.no_show")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/sites/{first.slot.site.code}/day/{day.isoformat()}/"
    assert _states([first]) == [AppointmentState.NO_SHOW]
    assert [e[2:5] for e in _events(confirmed)] == [
        ["no_show", first.slot.code, first.entry.entry_id]
    ]
    assert (event.actor, event.reference) == (agent, first.entry.pseudonym)
    assert Person.objects.get(pk=first.entry.person_id).absences == 1
    assert Entry.objects.get(pk=first.entry_id).status == EntryStatus.SELECTED
    assert_replays(kit.kit_files(Draw.objects.get(window=confirmed.window)))


def test_absence_before_the_appointment_time_is_refused(confirmed, agent, login_otp):
    first = confirmed.appointments[0]

    with clock.at(first.slot.starts_at - timedelta(minutes=5)):
        response = login_otp(agent).post(_absent_url(first), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert str(response.context["error"]) == "This appointment's time has not come yet."
    assert _states([first]) == [AppointmentState.CONFIRMED]
    assert _events(confirmed) == []


def test_absence_of_a_checked_in_appointment_is_refused(confirmed, agent):
    first = confirmed.appointments[0]
    Appointment.objects.filter(pk=first.pk).update(
        state=AppointmentState.CHECKED_IN, checked_in_at=first.slot.starts_at, checkin_desk="1"
    )

    with clock.at(_after(first)), pytest.raises(DomainError) as refused:
        absences.record_absence(appointment_id=first.pk, actor=agent)

    assert refused.value.code == "appointment_state"
    assert _events(confirmed) == []


@pytest.mark.parametrize("persona", ["other_agent", "auditor"])
def test_absence_by_another_prefecture_or_an_auditor_is_404(request, confirmed, login_otp, persona):
    first = confirmed.appointments[0]
    client = login_otp(request.getfixturevalue(persona))

    with clock.at(_after(first)):
        response = client.post(_absent_url(first))

    assert response.status_code == 404
    assert _states([first]) == [AppointmentState.CONFIRMED]


def test_service_refuses_another_prefecture_agent_as_not_found(confirmed, other_agent):
    first = confirmed.appointments[0]

    with clock.at(_after(first)), pytest.raises(DomainError) as refused:
        absences.record_absence(appointment_id=first.pk, actor=other_agent)

    assert refused.value.http_status == 404


def test_code_of_an_absent_appointment_is_refused_as_not_confirmed(confirmed, agent):
    first = confirmed.appointments[0]
    with clock.at(_after(first)):
        absences.record_absence(appointment_id=first.pk, actor=agent)
    day = first.slot.starts_at.astimezone(PARIS).date()

    with pytest.raises(TokenRefused) as refused:
        read_token(make_token(first), agent.prefecture_id, day)

    assert refused.value.code == Refusal.CANCELLED


def test_check_in_and_absence_exclude_each_other(confirmed, agent, monkeypatch):
    first = confirmed.appointments[0]
    day = first.slot.starts_at.astimezone(PARIS).date()
    monkeypatch.setattr(checkin, "today", lambda: day)
    checkin.check_in(appointment_id=first.pk, actor=agent, desk="1")

    with clock.at(_after(confirmed.appointments[-1])):
        marked = absences.mark_due_absences()

    assert (marked, _states([first])) == (2, [AppointmentState.CHECKED_IN])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_check_in_and_the_absence_task_at_once_leave_one_outcome(timeline, agent, monkeypatch):
    life = timeline(entries=2, slots=1)
    life.run_all()
    offer = Appointment.objects.get(entry__window=life.window)
    services_offers.accept_offer(appointment_id=offer.pk)
    monkeypatch.setattr(checkin, "today", lambda: offer.slot.starts_at.astimezone(PARIS).date())

    with clock.at(_after(offer)):
        outcomes = run_concurrently(
            lambda: checkin.check_in(appointment_id=offer.pk, actor=agent, desk="1"),
            absences.mark_due_absences,
        )

    state = Appointment.objects.get(pk=offer.pk).state
    lines = _events(life)
    checked_in = outcomes[0][1] is None
    assert outcomes[1][1] is None
    assert (state, outcomes[1][0], len(lines)) == (
        (AppointmentState.CHECKED_IN, 0, 0) if checked_in else (AppointmentState.NO_SHOW, 1, 1)
    )


# --- The published rule -----------------------------------------------------------------------


def _carried_after_a_miss(life, person):
    earlier = WindowFactory(prefecture=life.window.prefecture, procedures=[life.procedure])
    prev = EntryFactory(
        window=earlier, procedure=life.procedure, person=person, status=EntryStatus.CARRIED,
        weight=3,
    )  # fmt: skip
    return EntryFactory(
        window=life.window, procedure=life.procedure, person=person, carried_from=prev
    )


def _absent_person(prefecture, when):
    """A person recorded absent at an appointment of another window, at `when`."""
    window = WindowFactory(prefecture=prefecture)
    appointment = AppointmentFactory(
        entry=EntryFactory(window=window),
        slot=SlotFactory(window=window),
        state=AppointmentState.NO_SHOW,
    )
    person = appointment.entry.person
    Person.objects.filter(pk=person.pk).update(absences=1, last_absence_at=when)
    return person


@pytest.mark.parametrize("rule", [False, True], ids=["rule off", "rule on"])
def test_absence_lowers_the_weight_only_when_the_window_publishes_it(timeline, settings, rule):
    settings.ABSENCE_LOWERS_WEIGHT = rule
    life = timeline(entries=0)
    recent = _absent_person(life.window.prefecture, life.window.closes_at - timedelta(days=30))
    old = _absent_person(life.window.prefecture, life.window.closes_at - timedelta(days=400))
    entries = [_carried_after_a_miss(life, person) for person in (recent, old)]

    life.close_and_freeze()

    draw = Draw.objects.get(window=life.window)
    rules = json.loads(kit.kit_files(draw)["announcement.json"])["rules"]
    weights = [Entry.objects.get(pk=entry.pk).weight for entry in entries]
    assert life.window.absence_lowers_weight is rule
    assert weights == ([1, 4] if rule else [4, 4])
    assert ("absence" in rules) is rule


def test_rules_page_states_the_absence_rule_of_its_window(prefecture, client, settings):
    windows = []
    for rule in (False, True):
        settings.ABSENCE_LOWERS_WEIGHT = rule
        windows.append(WindowFactory(prefecture=prefecture))
        lottery_services.announce_draw(window_id=windows[-1].pk, beacon_mode=BeaconMode.NONE)

    pages = [
        client.get(f"/draws/{window.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        for window in windows
    ]

    assert "is recorded as an absence for the person" in pages[0]
    assert "it does not change the weight" in pages[0] and "weight 1." not in pages[0]
    assert "it also lowers the weight" in pages[1]


def test_staff_home_counts_the_days_check_ins_and_absences_per_site_in_one_query(
    confirmed, agent, login_otp, monkeypatch, django_assert_num_queries
):
    first, second, third = confirmed.appointments
    day = first.slot.starts_at.astimezone(PARIS).date()
    monkeypatch.setattr(checkin, "today", lambda: day)
    checkin.check_in(appointment_id=first.pk, actor=agent, desk="1")
    with clock.at(_after(second)):
        absences.record_absence(appointment_id=second.pk, actor=agent)
    SiteFactory(prefecture=confirmed.window.prefecture, code="EMPTY")  # nothing today
    client = login_otp(agent)

    with django_assert_num_queries(1):
        sites = list(day_list.day_totals_by_site(confirmed.window.prefecture_id, day))
    page = client.get("/staff/")
    next_day = list(day_list.day_totals_by_site(agent.prefecture_id, day + timedelta(days=1)))

    totals = {site.code: (site.expected, site.present, site.absent) for site in sites}
    assert sum(e for e, _p, _a in totals.values()) == 3 and totals["EMPTY"] == (0, 0, 0)
    assert sum(p for _e, p, _a in totals.values()) == 1
    assert sum(a for _e, _p, a in totals.values()) == 1
    assert {third.slot.site.code, "EMPTY"} <= set(totals)
    home_totals = {s.code: (s.expected, s.present, s.absent) for s in page.context["sites_today"]}
    assert home_totals == totals
    assert f'href="/staff/sites/{first.slot.site.code}/day/{day.isoformat()}/"' in (
        page.content.decode()
    )
    assert all((s.expected, s.present, s.absent) == (0, 0, 0) for s in next_day)
