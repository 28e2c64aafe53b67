"""Check-in at the desk and the day list: the convocation's code (signed, opaque, short, bound to
the prefecture and the day, once), each refusal with its reason, logged and audited, the audited
identity read, exactly one check-in for two desks at once, the day list without identities and
with a query count that does not grow, its CSV export neutralised, and 404 for another
prefecture's staff."""

import csv
import io
import logging
import re
import threading
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Role
from booking import checkin, checkin_token
from booking.checkin_token import PARIS, Refusal, TokenRefused, make_token, read_token
from booking.models import Appointment, AppointmentState
from config.errors import DomainError
from tests.conftest import run_concurrently
from tests.factories import (
    AppointmentFactory,
    EntryFactory,
    ProcedureFactory,
    SiteFactory,
    SlotFactory,
    StaffFactory,
    WindowFactory,
)

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){5}[0-9A-HJKMNP-TV-Z]{4}$")


def _today_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(checkin.today(), time(hour, minute), tzinfo=PARIS)


def _appointment(window, *, site=None, hour=10, state=AppointmentState.CONFIRMED, **kwargs):
    site = site or SiteFactory(prefecture=window.prefecture)
    starts_at = kwargs.pop("starts_at", None) or _today_at(hour)
    slot = SlotFactory(window=window, site=site, starts_at=starts_at, **kwargs)
    return AppointmentFactory(entry=EntryFactory(window=window), slot=slot, state=state)


@pytest.fixture
def site(prefecture):
    return SiteFactory(prefecture=prefecture, code="GRENOBLE", name="Grenoble")


@pytest.fixture
def appointment(window, site):
    return _appointment(window, site=site)


@pytest.fixture
def other_window(other_prefecture):
    return WindowFactory(prefecture=other_prefecture)


def _refusal(text, prefecture_id, day) -> str:
    with pytest.raises(TokenRefused) as refused:
        read_token(text, prefecture_id, day)
    return refused.value.code


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- The code -----------------------------------------------------------------------------------


def test_token_is_short_grouped_and_holds_no_personal_data(appointment):
    person = appointment.entry.person

    token = make_token(appointment)

    assert CODE_RE.match(token), token
    assert len(token.replace("-", "")) == 24
    for value in (person.identifier, person.family_name, appointment.entry.entry_id[:8]):
        assert value.upper() not in token.replace("-", "")


def test_token_reads_back_as_typed_by_hand(appointment, prefecture):
    token = make_token(appointment)
    typed = token.replace("-", " ").lower().replace("0", "o").replace("1", "l")

    found = read_token(typed, prefecture.pk, checkin.today())

    assert found == appointment


def test_token_made_before_a_key_rotation_is_still_read(appointment, prefecture, settings):
    old_key = settings.SECRET_KEY
    token = make_token(appointment)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "n" * 50, [old_key]

    assert read_token(token, prefecture.pk, checkin.today()) == appointment


def _flipped(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("1" if last != "1" else "2")


def _other_key(appointment, settings) -> str:
    ours, settings.SECRET_KEY = settings.SECRET_KEY, "x" * 50
    token = make_token(appointment)
    settings.SECRET_KEY = ours
    return token


def _unknown_version(appointment, settings) -> str:
    # A code signed with our own key, but whose version byte names no allowed algorithm.
    payload = bytes([2]) + appointment.slot.window.prefecture_id.to_bytes(2, "big")
    payload += appointment.pk.to_bytes(4, "big")
    mac = checkin_token._macs(payload, "sha256")[0]
    return checkin_token._encode(payload + mac)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda appointment, settings: _flipped(make_token(appointment)),
        lambda appointment, settings: make_token(appointment)[:-5],
        lambda appointment, settings: "not a code at all",
        lambda appointment, settings: "",
        _other_key,
        _unknown_version,
    ],
    ids=["one character changed", "cut short", "junk", "empty", "another key", "version 2"],
)
def test_tampered_token_is_refused(appointment, prefecture, settings, tamper):
    text = tamper(appointment, settings)

    assert _refusal(text, prefecture.pk, checkin.today()) == Refusal.TAMPERED


def test_foreign_token_is_refused(other_window, prefecture):
    theirs = _appointment(other_window)

    assert _refusal(make_token(theirs), prefecture.pk, checkin.today()) == Refusal.FOREIGN


def test_token_of_another_day_is_refused_as_expired(appointment, prefecture):
    token = make_token(appointment)
    today = checkin.today()

    reasons = [
        _refusal(token, prefecture.pk, day)
        for day in (today - timedelta(days=1), today + timedelta(days=1))
    ]

    assert reasons == [Refusal.EXPIRED, Refusal.EXPIRED]


@pytest.mark.parametrize(
    "state",
    [
        AppointmentState.CANCELLED,
        AppointmentState.OFFERED,
        AppointmentState.DECLINED,
        AppointmentState.NO_SHOW,
    ],
)
def test_token_of_an_appointment_not_confirmed_is_refused_as_cancelled(window, prefecture, state):
    appointment = _appointment(window, state=state)

    assert _refusal(make_token(appointment), prefecture.pk, checkin.today()) == Refusal.CANCELLED


def test_token_already_checked_in_answers_with_the_first_time_and_desk(appointment, agent):
    checkin.check_in(appointment_id=appointment.pk, actor=agent, desk="Guichet 3")
    appointment.refresh_from_db()

    with pytest.raises(TokenRefused) as refused:
        read_token(make_token(appointment), agent.prefecture_id, checkin.today())

    first = appointment.checked_in_at.astimezone(PARIS).strftime("%H:%M")
    assert refused.value.code == Refusal.ALREADY_CHECKED_IN
    message = str(refused.value.message)  # in any language: the time, then the desk
    assert first in message and message.endswith(" Guichet 3.")


# --- Check-in services --------------------------------------------------------------------------


def test_check_in_records_time_desk_and_agent_with_its_audit_row(appointment, agent):
    before = timezone.now()

    checkin.check_in(appointment_id=appointment.pk, actor=agent, desk="3")

    appointment.refresh_from_db()
    event = _audit("appointment.checked_in")[0]
    assert (appointment.state, appointment.checkin_desk, appointment.checked_in_by) == (
        AppointmentState.CHECKED_IN,
        "3",
        agent,
    )
    assert before - timedelta(seconds=5) <= appointment.checked_in_at <= timezone.now()
    assert (event.actor, event.target_id, event.reference, event.prefecture_id) == (
        agent,
        str(appointment.pk),
        appointment.entry.pseudonym,
        agent.prefecture_id,
    )
    assert event.data == {"desk": "3", "slot": appointment.slot.code}


def test_second_check_in_is_refused_and_changes_nothing(appointment, agent, supervisor):
    checkin.check_in(appointment_id=appointment.pk, actor=agent, desk="1")

    with pytest.raises(TokenRefused) as refused:
        checkin.check_in(appointment_id=appointment.pk, actor=supervisor, desk="2")

    appointment.refresh_from_db()
    assert refused.value.code == Refusal.ALREADY_CHECKED_IN
    assert (appointment.checkin_desk, appointment.checked_in_by) == ("1", agent)
    assert [e.data["reason"] for e in _audit("checkin.refused")] == [Refusal.ALREADY_CHECKED_IN]


def test_check_in_of_another_day_is_refused_even_without_the_code(window, agent):
    tomorrow = _appointment(window, starts_at=_today_at(10) + timedelta(days=1))

    with pytest.raises(TokenRefused) as refused:
        checkin.check_in(appointment_id=tomorrow.pk, actor=agent, desk="1")

    assert refused.value.code == Refusal.EXPIRED
    assert Appointment.objects.get(pk=tomorrow.pk).state == AppointmentState.CONFIRMED


def test_read_for_checkin_audits_the_identity_read(appointment, agent):
    token = make_token(appointment)

    found = checkin.read_for_checkin(text=token, actor=agent, desk="3")

    event = _audit("identity.read")[0]
    person = appointment.entry.person
    assert (found.entry.person.family_name, found.entry.person.birth_date) == (
        person.family_name,
        "1990-01-01",
    )
    assert (event.actor, event.target_type, event.target_id, event.reference) == (
        agent,
        "appointment",
        str(appointment.pk),
        appointment.entry.pseudonym,
    )
    assert event.data == {"purpose": "checkin", "desk": "3"}
    assert person.family_name not in str(event.data) and person.identifier not in str(event.data)


def test_every_refusal_is_logged_and_audited_without_personal_data(
    window, other_window, agent, caplog
):
    cases = {
        Refusal.TAMPERED: "0000-0000-0000-0000-0000-0000",
        Refusal.FOREIGN: make_token(_appointment(other_window)),
        Refusal.CANCELLED: make_token(_appointment(window, state=AppointmentState.CANCELLED)),
    }
    yesterday = _appointment(window, starts_at=_today_at(10) - timedelta(days=1))
    cases[Refusal.EXPIRED] = make_token(yesterday)
    seen = _appointment(window)
    checkin.check_in(appointment_id=seen.pk, actor=agent, desk="1")
    cases[Refusal.ALREADY_CHECKED_IN] = make_token(seen)
    caplog.set_level(logging.WARNING, logger="booking.checkin")

    reasons = []
    for text in cases.values():
        with pytest.raises(TokenRefused) as refused:
            checkin.read_for_checkin(text=text, actor=agent, desk="2")
        reasons.append(refused.value.code)

    logged = [r.getMessage() for r in caplog.records if r.name == "booking.checkin"]
    audited = [e.data["reason"] for e in _audit("checkin.refused")]
    assert reasons == audited == list(cases)
    assert [line.split(":")[1].split()[0] for line in logged] == list(cases)
    assert not _audit("identity.read")
    for text in cases.values():
        assert all(text not in line for line in logged)
    names = [
        a.entry.person.family_name for a in Appointment.objects.select_related("entry__person")
    ]
    assert all(name not in line for line in logged for name in names)


def test_only_agents_and_supervisors_check_in(appointment, auditor):
    with pytest.raises(DomainError) as refused:
        checkin.check_in(appointment_id=appointment.pk, actor=auditor, desk="1")

    assert refused.value.http_status == 403
    assert Appointment.objects.get(pk=appointment.pk).state == AppointmentState.CONFIRMED


def test_another_prefecture_agent_cannot_check_in_by_id(appointment, other_agent):
    with pytest.raises(DomainError) as refused:
        checkin.check_in(appointment_id=appointment.pk, actor=other_agent, desk="1")

    assert refused.value.http_status == 404
    assert Appointment.objects.get(pk=appointment.pk).state == AppointmentState.CONFIRMED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_code_at_two_desks_at_once_checks_in_once(window, site, agent, supervisor):
    appointment = _appointment(window, site=site)
    token = make_token(appointment)

    outcomes = run_concurrently(
        lambda: checkin.check_in_with_code(text=token, actor=agent, desk="1"),
        lambda: checkin.check_in_with_code(text=token, actor=supervisor, desk="2"),
    )

    appointment.refresh_from_db()
    winners = [result for result, error in outcomes if error is None]
    losers = [error for result, error in outcomes if error is not None]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].code == Refusal.ALREADY_CHECKED_IN
    assert str(losers[0].message).endswith(f" {appointment.checkin_desk}.")  # the winner's
    assert appointment.state == AppointmentState.CHECKED_IN
    assert len(_audit("appointment.checked_in")) == 1
    assert [e.data["reason"] for e in _audit("checkin.refused")] == [Refusal.ALREADY_CHECKED_IN]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_desks_past_the_read_at_once_meet_at_the_conditional_update(
    window, site, agent, supervisor, monkeypatch
):
    appointment = _appointment(window, site=site)
    both_read = threading.Barrier(2)
    first_call = threading.local()
    read = checkin._refusal

    def read_then_wait(found):  # each desk has seen the appointment confirmed, then goes on
        outcome = read(found)
        if not getattr(first_call, "done", False):
            first_call.done = True
            both_read.wait(10)
        return outcome

    monkeypatch.setattr(checkin, "_refusal", read_then_wait)

    outcomes = run_concurrently(
        lambda: checkin.check_in(appointment_id=appointment.pk, actor=agent, desk="1"),
        lambda: checkin.check_in(appointment_id=appointment.pk, actor=supervisor, desk="2"),
    )

    appointment.refresh_from_db()
    errors = [error for _result, error in outcomes]
    assert sorted(error is None for error in errors) == [False, True]
    loser = next(error for error in errors if error is not None)
    assert loser.code == Refusal.ALREADY_CHECKED_IN
    assert str(loser.message).endswith(f" {appointment.checkin_desk}.")  # the winner's desk
    assert len(_audit("appointment.checked_in")) == 1


# --- Check-in pages -----------------------------------------------------------------------------

CHECKIN = "/staff/checkin/"
PRESENT = "/staff/checkin/present/"


def test_checkin_page_shows_the_identity_for_a_valid_code(login_otp, agent, appointment):
    client = login_otp(agent)
    person = appointment.entry.person

    response = client.post(CHECKIN, {"desk": "3", "code": make_token(appointment)})

    html = response.content.decode()
    assert response.status_code == 200
    assert person.family_name in html and person.identifier in html and "1990-01-01" in html
    assert len(_audit("identity.read")) == 1
    assert Appointment.objects.get(pk=appointment.pk).state == AppointmentState.CONFIRMED
    assert client.get(CHECKIN).context["form"].initial["desk"] == "3"  # remembered


def test_present_checks_in_and_says_so(login_otp, agent, appointment):
    client = login_otp(agent)

    response = client.post(
        PRESENT, {"desk": "3", "code": make_token(appointment)}, HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )  # fmt: skip

    appointment.refresh_from_db()
    assert (appointment.state, appointment.checkin_desk) == (AppointmentState.CHECKED_IN, "3")
    assert response.redirect_chain == [(CHECKIN, 302)]
    assert f"{appointment.entry.pseudonym} is checked in at desk 3" in response.content.decode()


def test_checkin_page_shows_the_reason_of_a_refusal(login_otp, agent, appointment):
    client = login_otp(agent)
    token = make_token(appointment)
    client.post(PRESENT, {"desk": "1", "code": token})

    response = client.post(CHECKIN, {"desk": "2", "code": token}, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert response.status_code == 409
    assert 'data-reason="already_checked_in"' in html and "desk 1." in html
    assert appointment.entry.person.family_name not in html


def test_checkin_page_refuses_a_desk_that_could_be_a_formula(login_otp, agent, appointment):
    client = login_otp(agent)

    response = client.post(CHECKIN, {"desk": "=1+1", "code": make_token(appointment)})

    assert response.status_code == 400
    assert not _audit("identity.read")


def test_checkin_page_script_is_a_static_file_and_the_form_works_without_it(login_otp, agent):
    response = login_otp(agent).get(CHECKIN)

    html = response.content.decode()
    assert 'src="/static/booking/checkin-scan.js"' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html) is None  # no inline script
    assert 'id="checkin-scan" class="fr-mb-3w" hidden' in html  # shown by the script only
    assert 'method="post" action="/staff/checkin/"' in html


@pytest.mark.parametrize("persona", ["auditor", "other_agent"])
def test_checkin_pages_are_for_desk_staff_only(request, login_otp, persona, appointment):
    client = login_otp(request.getfixturevalue(persona))

    answers = [
        client.get(CHECKIN).status_code,
        client.post(PRESENT, {"desk": "1", "code": make_token(appointment)}).status_code,
    ]

    expected = [404, 404] if persona == "auditor" else [200, 409]  # foreign code: its reason
    assert answers == expected
    assert Appointment.objects.get(pk=appointment.pk).state == AppointmentState.CONFIRMED


# --- The day list -------------------------------------------------------------------------------


def _day_url(site, day=None, suffix=""):
    return f"/staff/sites/{site.code}/day/{(day or checkin.today()).isoformat()}/{suffix}"


def test_day_list_shows_time_desk_reference_status_and_procedure_not_identity(
    login_otp, agent, window, site
):
    procedure = window.procedures.first()
    rows = {
        "to come": _appointment(window, site=site, hour=9),
        "present": _appointment(window, site=site, hour=10),
        "absent": _appointment(window, site=site, hour=11, state=AppointmentState.NO_SHOW),
        "cancelled": _appointment(window, site=site, hour=12, state=AppointmentState.CANCELLED),
    }
    checkin.check_in(appointment_id=rows["present"].pk, actor=agent, desk="B2")
    elsewhere = _appointment(window, hour=9)  # another site

    response = login_otp(agent).get(_day_url(site))

    listed = [
        (row.local_time.strftime("%H:%M"), row.appointment.checkin_desk,
         row.appointment.entry.pseudonym, row.status, row.appointment.slot.procedure.name)
        for row in response.context["rows"]
    ]  # fmt: skip
    html = response.content.decode()
    assert listed == [
        ("09:00", "", rows["to come"].entry.pseudonym, "to_come", procedure.name),
        ("10:00", "B2", rows["present"].entry.pseudonym, "present", procedure.name),
        ("11:00", "", rows["absent"].entry.pseudonym, "absent", procedure.name),
        ("12:00", "", rows["cancelled"].entry.pseudonym, "cancelled", procedure.name),
    ]
    assert elsewhere.entry.pseudonym not in html
    for appointment in rows.values():
        person = appointment.entry.person
        assert person.family_name not in html and person.identifier not in html
    assert not _audit("identity.read")


def test_day_list_shows_a_past_day_check_in_as_seen(login_otp, agent, window, site, monkeypatch):
    seen = _appointment(window, site=site)
    checkin.check_in(appointment_id=seen.pk, actor=agent, desk="1")
    today = seen.slot.starts_at.astimezone(PARIS).date()
    monkeypatch.setattr(checkin, "today", lambda: today + timedelta(days=1))

    response = login_otp(agent).get(_day_url(site, day=today))

    assert [row.status for row in response.context["rows"]] == ["seen"]


def test_day_list_query_count_does_not_grow_with_its_length(
    login_otp, agent, window, site, django_assert_max_num_queries
):
    _appointment(window, site=site, hour=9)
    client = login_otp(agent)
    with CaptureQueriesContext(connection) as one:
        first = client.get(_day_url(site))
    _appointment(window, site=site, hour=10)
    _appointment(window, site=site, hour=11)

    with django_assert_max_num_queries(len(one.captured_queries)):
        third = client.get(_day_url(site))
    with django_assert_max_num_queries(len(one.captured_queries)):
        export = client.get(_day_url(site, suffix="export.csv"))

    assert [len(page.context["rows"]) for page in (first, third)] == [1, 3]
    assert len(export.content.decode().splitlines()) == 4


def test_day_export_neutralises_cells_that_a_spreadsheet_would_run(login_otp, agent, prefecture):
    procedures = [
        ProcedureFactory(prefecture=prefecture, name=name)
        for name in ("=HYPERLINK(\"http://evil\")", "+33 renewal", "-2+3", "@SUM(A1)",
                     "\tTab", "\rReturn", "Renewal")
    ]  # fmt: skip
    window = WindowFactory(prefecture=prefecture, procedures=procedures)
    site = SiteFactory(prefecture=prefecture, code="GRENOBLE")
    for hour, procedure in enumerate(procedures, start=8):
        _appointment(window, site=site, hour=hour, procedure=procedure)

    response = login_otp(agent).get(_day_url(site, suffix="export.csv"), HTTP_ACCEPT_LANGUAGE="en")

    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert rows[0] == ["Time", "Desk", "Reference", "Status", "Procedure"]
    assert [row[4] for row in rows[1:]] == [
        "'=HYPERLINK(\"http://evil\")", "'+33 renewal", "'-2+3", "'@SUM(A1)", "'\tTab",
        "'\rReturn", "Renewal",
    ]  # fmt: skip
    assert all(row[3] for row in rows[1:])


def test_day_pick_page_defaults_to_today_and_leads_to_the_list(login_otp, agent, site):
    client = login_otp(agent)

    page = client.get("/staff/day/")
    chosen = client.get("/staff/day/", {"site": site.code, "day": "2026-11-20"})

    assert page.context["form"].initial == {"day": checkin.today(), "site": site.code}
    assert chosen["Location"] == "/staff/sites/GRENOBLE/day/2026-11-20/"


def test_auditor_reads_the_day_list_without_the_absence_button(login_otp, auditor, window, site):
    appointment = _appointment(window, site=site, hour=0)

    response = login_otp(auditor).get(_day_url(site))

    assert response.status_code == 200 and response.context["may_mark_absent"] is False
    assert reverse("staff-appointment-absent", args=[appointment.pk]) not in (
        response.content.decode()
    )


def test_agent_sees_the_absence_button_only_after_the_appointment_time(
    login_otp, agent, window, site
):
    past = _appointment(window, site=site, hour=9)
    upcoming = _appointment(window, site=site, hour=15)

    with time_machine.travel(_today_at(12), tick=False):
        html = login_otp(agent).get(_day_url(site)).content.decode()

    assert reverse("staff-appointment-absent", args=[past.pk]) in html
    assert reverse("staff-appointment-absent", args=[upcoming.pk]) not in html


@pytest.mark.parametrize("suffix", ["", "export.csv"])
def test_another_prefecture_gets_404_for_the_day_list(login_otp, other_prefecture, site, suffix):
    other = StaffFactory(username="rhone.sup", role=Role.SUPERVISOR, prefecture=other_prefecture)

    response = login_otp(other).get(_day_url(site, suffix=suffix))

    assert response.status_code == 404


@pytest.mark.parametrize("day", ["2026-13-01", "20261120", "today", "2026-1-1"])
def test_day_list_of_a_malformed_day_is_404(login_otp, agent, site, day):
    assert login_otp(agent).get(f"/staff/sites/{site.code}/day/{day}/").status_code == 404
