"""Every state change writes its audit row: each service is run and the rows it added counted,
with their action and a named actor (a person, "applicant" or a task, never a bare "system").
The chain stays intact throughout."""

from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts import audit, otp, ratelimit
from accounts.models import AuditEvent
from booking import partners, registration
from booking.models import Appointment, AppointmentState
from booking.services import tick_windows
from config.errors import DomainError
from lottery import four_eyes, services, services_offers
from tests.booking.test_registration import _last_code, _start

pytestmark = pytest.mark.django_db


@contextmanager
def writes(*actions: str, actor: str | None = None):
    """The block adds at least one row of each action, every new row naming an actor."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    yield
    added = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))
    assert set(actions) <= {row.action for row in added}, [row.action for row in added]
    assert all(row.actor_label and row.actor_label != "system" for row in added)
    if actor is not None:
        assert {row.actor_label for row in added if row.action in actions} == {actor}


def _chain_intact():
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue().startswith("audit log intact")


def test_registration_steps_are_audited(window):
    with writes("otp.sent", actor="applicant"):
        pending = _start(window)
    with writes("otp.verified", actor="applicant"):
        registration.verify_registration(pending=pending, code=_last_code(pending.contact))
    with writes("entry.registered", actor="applicant"):
        registration.submit_registration(pending=pending)

    assert _chain_intact()


def test_a_lockout_is_audited(window):
    contact = _start(window).contact

    with writes("otp.locked", actor="applicant"), time_machine.travel(timezone.now()) as clock:
        for _code in range(2):  # five wrong tries per code, ten in a row lock
            clock.shift(timedelta(minutes=16))
            ratelimit.reset()
            otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
            for _try in range(otp.MAX_TRIES_PER_CODE):
                with pytest.raises(DomainError):
                    otp.verify_code(contact=contact, code="000000")

    assert _chain_intact()


def test_partner_keys_are_audited(prefecture, supervisor):
    with writes("partner_key.created", actor=supervisor.username):
        key, _secret = partners.create_partner_key(
            prefecture=prefecture, name="Cimade", actor=supervisor
        )
    with writes("partner_key.revoked", actor=supervisor.username):
        partners.revoke_partner_key(partner=key, actor=supervisor)


def test_the_draw_timeline_and_offers_are_audited(timeline, agent, supervisor):
    with writes("draw.announced", actor="pytest"):
        life = timeline(entries=8, slots=3)
    with writes("window.closed", "draw.frozen", actor="pytest"):
        life.close_and_freeze()
    with writes("draw.run", "window.drawn"):
        life.reveal_operator()
        life.draw()
    with writes("draw.published", "window.published"):
        services.publish_draw(window_id=life.window_id)
    offers = list(Appointment.objects.filter(entry__window=life.window).order_by("entry__rank"))
    with writes("offer.decline", "offer.offer", actor="applicant"):
        services_offers.decline_offer(appointment_id=offers[0].pk)
    with writes("four_eyes.requested.cancellation", actor=agent.username):
        request = four_eyes.request_cancellation(
            appointment_id=offers[1].pk, actor=agent, reason="Strike"
        )
    with writes("four_eyes.approved.cancellation", "offer.cancel", actor=supervisor.username):
        four_eyes.decide(request_id=request.pk, actor=supervisor, approve=True)
    with writes("events.head"):
        services_offers.publish_event_heads()

    assert Appointment.objects.get(pk=offers[1].pk).state == AppointmentState.CANCELLED
    assert _chain_intact()


def test_window_ticks_are_audited_by_the_task_that_runs_them(timeline):
    life = timeline(entries=2, slots=1)

    with audit.acting_as("task_tick_windows"), writes("window.closed", actor="task_tick_windows"):
        tick_windows()

    assert life.window.pk
