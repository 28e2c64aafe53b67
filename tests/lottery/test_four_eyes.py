"""Four eyes: urgency, early closing and staff cancellations wait for a second supervisor."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEvent, Role
from booking.models import Appointment, AppointmentState, Entry, Window, WindowState
from config.errors import Conflict, Forbidden
from lottery import four_eyes, kit
from lottery.models import Draw, RequestState, StaffRequest
from tests.factories import EntryFactory, StaffFactory, WindowFactory
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_supervisor(prefecture):
    return StaffFactory(prefecture=prefecture, role=Role.SUPERVISOR)


@pytest.fixture
def open_window(prefecture):
    now = timezone.now()
    return WindowFactory(
        prefecture=prefecture,
        state=WindowState.OPEN,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=3),
        freeze_at=now + timedelta(days=3),
        reveal_deadline=now + timedelta(days=4),
    )


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def test_urgency_applies_only_once_a_second_supervisor_approves(
    open_window, agent, supervisor, second_supervisor
):
    entry = EntryFactory(window=open_window)

    request = four_eyes.request_urgency(entry_id=entry.pk, actor=agent, reason="Permit lost")
    assert Entry.objects.get(pk=entry.pk).tier == 1  # nothing changes while pending

    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True, note="Seen papers")

    entry.refresh_from_db()
    assert (entry.tier, entry.urgent_approved) == (0, True)
    assert StaffRequest.objects.get(pk=request.pk).state == RequestState.APPROVED
    assert _actions()[-3:] == [
        "four_eyes.requested.urgency",
        "entry.made_urgent",
        "four_eyes.approved.urgency",
    ]
    assert AuditEvent.objects.get(action="entry.made_urgent").reference == entry.pseudonym


def test_a_supervisor_never_approves_their_own_request(open_window, supervisor):
    entry = EntryFactory(window=open_window)
    request = four_eyes.request_urgency(entry_id=entry.pk, actor=supervisor, reason="Urgent")

    with pytest.raises(Forbidden, match="own_request"):
        four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    assert Entry.objects.get(pk=entry.pk).tier == 1
    assert StaffRequest.objects.get(pk=request.pk).state == RequestState.PENDING


def test_the_database_refuses_a_decision_by_the_requester(open_window, supervisor):
    request = four_eyes.request_early_close(
        window_id=open_window.pk, actor=supervisor, reason="Strike"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        StaffRequest.objects.filter(pk=request.pk).update(decided_by=supervisor)


@pytest.mark.parametrize("role", [Role.AGENT, Role.AUDITOR, Role.HELPER])
def test_only_a_supervisor_decides(open_window, agent, role, prefecture):
    request = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")
    other = StaffFactory(prefecture=prefecture, role=role)

    with pytest.raises(Forbidden):
        four_eyes.decide(request_id=request.pk, actor=other, approve=True)

    assert Window.objects.get(pk=open_window.pk).state == WindowState.OPEN


def test_a_supervisor_of_another_prefecture_cannot_decide(open_window, agent, other_prefecture):
    request = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")
    foreign = StaffFactory(prefecture=other_prefecture, role=Role.SUPERVISOR)

    with pytest.raises(Forbidden):
        four_eyes.decide(request_id=request.pk, actor=foreign, approve=True)

    assert Window.objects.get(pk=open_window.pk).state == WindowState.OPEN


def test_another_prefecture_cannot_request(open_window, other_agent):
    with pytest.raises(Forbidden):
        four_eyes.request_early_close(window_id=open_window.pk, actor=other_agent, reason="x")

    assert StaffRequest.objects.count() == 0


def test_early_close_closes_now_and_keeps_the_freeze(open_window, agent, supervisor):
    request = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")

    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    window = Window.objects.get(pk=open_window.pk)
    assert window.state == WindowState.CLOSED
    assert window.closes_at <= timezone.now() < window.freeze_at == open_window.freeze_at
    assert "window.closed_early" in _actions()


def test_a_refusal_changes_nothing_and_a_request_is_decided_once(
    open_window, agent, supervisor, second_supervisor
):
    request = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")

    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=False, note="No")
    with pytest.raises(Conflict, match="request_decided"):
        four_eyes.decide(request_id=request.pk, actor=second_supervisor, approve=True)

    assert Window.objects.get(pk=open_window.pk).state == WindowState.OPEN
    assert StaffRequest.objects.get(pk=request.pk).state == RequestState.REFUSED
    assert _actions()[-1] == "four_eyes.refused.early_close"


def test_the_same_request_is_not_stored_twice(open_window, agent):
    four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")

    with pytest.raises(Conflict, match="request_pending"):
        four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="again")

    assert StaffRequest.objects.count() == 1


def test_urgency_is_refused_after_the_freeze(timeline, agent, supervisor):
    life = timeline(entries=4, slots=2)
    request = four_eyes.request_urgency(entry_id=life.entries[0].pk, actor=agent, reason="x")
    life.close_and_freeze()

    with pytest.raises(Conflict, match="window_frozen"):
        four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    assert Entry.objects.get(pk=life.entries[0].pk).tier == 1
    assert StaffRequest.objects.get(pk=request.pk).state == RequestState.PENDING


def test_a_staff_cancellation_reoffers_the_slot_and_replays(timeline, agent, supervisor):
    life = timeline(entries=6, slots=2)
    life.run_all()
    held = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank").first()

    request = four_eyes.request_cancellation(
        appointment_id=held.pk, actor=agent, reason="Desk closed by a strike"
    )
    assert Appointment.objects.get(pk=held.pk).state == AppointmentState.OFFERED
    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    assert Appointment.objects.get(pk=held.pk).state == AppointmentState.CANCELLED
    reoffer = Appointment.objects.get(slot=held.slot, state=AppointmentState.OFFERED)
    assert reoffer.entry_id != held.entry_id
    draw = Draw.objects.get(window=life.window)
    events = kit.kit_files(draw)["events.log"].decode().splitlines()
    assert [line.split(",")[2] for line in events] == ["cancel", "offer"]
    assert_replays(kit.kit_files(draw))
    cancel_row = AuditEvent.objects.get(action="offer.cancel")
    assert (cancel_row.actor_id, cancel_row.reference) == (supervisor.pk, held.entry.pseudonym)


def test_counts_per_kind_for_the_public_page(open_window, agent, supervisor):
    first = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")
    four_eyes.decide(request_id=first.pk, actor=supervisor, approve=False)
    entry = EntryFactory(window=open_window)
    four_eyes.request_urgency(entry_id=entry.pk, actor=agent, reason="y")

    counts = four_eyes.counts(open_window.pk)

    assert counts == {
        "urgency": {"requested": 1, "approved": 0, "refused": 0},
        "early_close": {"requested": 1, "approved": 0, "refused": 1},
        "cancellation": {"requested": 0, "approved": 0, "refused": 0},
    }


def test_the_public_draw_page_counts_the_requests(client, open_window, agent, supervisor):
    from lottery import services

    services.announce_draw(window_id=open_window.pk)
    request = four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")
    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    page = client.get(f"/draws/{open_window.code}/").content.decode()

    section = page.split('id="four-eyes"')[1].split("</table>")[0]
    row = section.split('id="four-eyes-early_close"')[1].split("</tr>")[0]
    assert row.replace(" ", "").count("<td>1</td>") == 2  # requested 1, approved 1
    assert "reason" not in section and "x</td>" not in section  # no staff note shown


def test_the_holder_is_told_of_a_staff_cancellation(timeline, agent, supervisor):
    from accounts.models import OutboxMessage
    from accounts.sms_text import gsm7
    from tests.factories import ContactFactory

    life = timeline(entries=6, slots=2)
    life.run_all()
    held = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank").first()
    contact = ContactFactory(user=StaffFactory(role="", prefecture=None, is_staff=False))
    Entry.objects.filter(pk=held.entry_id).update(contact=contact)
    request = four_eyes.request_cancellation(appointment_id=held.pk, actor=agent, reason="x")

    four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)

    message = OutboxMessage.objects.get(dedup_key=f"cancel:{held.pk}")
    assert held.entry.entry_id[:8].upper() in message.body
    assert message.body == gsm7(message.body) and len(message.body) <= 160
