"""After the draw: accept, decline, cancel, lapse, and re-offers (FAIRDRAW-1 section 10).

A freed slot goes to the best-ranked waiting entry that is compatible with it and has never
been offered a slot since the draw, never to whoever asks first. These are the rules of the
engine's `Waitlist`, which the replay runs over events.log, so the log this module writes is
checked by the same code an auditor runs.

Locking: every operation locks the window's draw row first (one order for everybody), which
serialises the window's events, so events.log has no gap and each offer sees the state left
by the previous one. The partial unique constraints on appointments are the backstop.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.inserts import insert_or_skip
from booking.models import Appointment, AppointmentState, Entry, EntryStatus, Slot
from config.errors import Conflict
from lottery import clock
from lottery.fairdraw.events import event_line, line_hash
from lottery.models import Draw, DrawEvent, DrawState, EventLogHead
from lottery.services import _audit

PARIS = ZoneInfo("Europe/Paris")
AFTER_DRAW = [DrawState.DRAWN, DrawState.HELD, DrawState.PUBLISHED]


def _lock(appointment_id: int) -> tuple[Draw, Appointment]:
    window_id = (
        Appointment.objects.filter(pk=appointment_id).values_list("slot__window_id", flat=True)
    ).first()
    if window_id is None:
        raise Conflict("appointment_unknown", _("This appointment does not exist."))
    draw = Draw.objects.select_for_update().select_related("window").get(window_id=window_id)
    if draw.state not in AFTER_DRAW:
        raise Conflict("not_drawn", _("This window has not been drawn."))
    appointment = Appointment.objects.select_related("entry", "slot").get(pk=appointment_id)
    return draw, appointment


def _log(draw: Draw, event: str, appointment: Appointment, now) -> None:
    head = event_log_head(draw)
    seq, prev = (head[0] + 1, head[1]) if head else (1, "")
    line = event_line(seq, now, event, appointment.slot.code, appointment.entry.entry_id, prev)
    DrawEvent.objects.create(draw=draw, seq=seq, line=line)
    _audit(f"offer.{event}", draw, seq=seq, slot=appointment.slot.code)


def event_log_head(draw: Draw) -> tuple[int, str] | None:
    """(seq, hex hash) of the draw's last events.log line, or None while the log is empty."""
    last = draw.events.order_by("-seq").only("seq", "line").first()
    return (last.seq, line_hash(last.line)) if last else None


def publish_event_heads(*, day=None) -> int:
    """Record today's head (Europe/Paris date) of every draw's events.log, once per draw and
    day (a second run the same day adds nothing). Returns how many heads were recorded."""
    day = day or clock.now().astimezone(PARIS).date()
    published = 0
    for draw in Draw.objects.filter(state__in=AFTER_DRAW, events__isnull=False).distinct():
        seq, head = event_log_head(draw)
        if insert_or_skip(EventLogHead(draw=draw, day=day, seq=seq, head=head)):
            _audit("events.head", draw, day=day.isoformat(), seq=seq, head=head)
            published += 1
    return published


def _move(appointment: Appointment, from_states, to_state, now) -> None:
    changed = Appointment.objects.filter(pk=appointment.pk, state__in=from_states).update(
        state=to_state, state_changed_at=now
    )
    if not changed:
        raise Conflict("appointment_state", _("This appointment cannot change that way now."))


def accept_offer(*, appointment_id: int) -> None:
    with transaction.atomic(durable=True):
        draw, appointment = _lock(appointment_id)
        now = clock.now()
        if appointment.respond_by and appointment.respond_by < now:
            raise Conflict("offer_lapsed", _("The time to answer this offer has passed."))
        _move(appointment, [AppointmentState.OFFERED], AppointmentState.CONFIRMED, now)
        # A slot given by the draw itself is held from the start in FAIRDRAW's waitlist: only
        # the acceptance of a re-offer is an event of the log.
        if _was_reoffered(draw, appointment):
            _log(draw, "accept", appointment, now)


def _was_reoffered(draw: Draw, appointment: Appointment) -> bool:
    marker = f",offer,{appointment.slot.code},{appointment.entry.entry_id},"
    return draw.events.filter(line__contains=marker).exists()


def decline_offer(*, appointment_id: int) -> Appointment | None:
    """Decline an offer (drawn or re-offered); the slot goes to the next. Returns the new offer."""
    return _give_up(
        appointment_id, [AppointmentState.OFFERED], AppointmentState.DECLINED, "decline"
    )


def cancel_appointment(*, appointment_id: int) -> Appointment | None:
    """Cancel a confirmed appointment; before the cut-off its slot is offered again."""
    return _give_up(
        appointment_id, [AppointmentState.CONFIRMED], AppointmentState.CANCELLED, "cancel"
    )


def lapse_offer(*, appointment_id: int) -> bool:
    """An offer not answered in time lapses and the slot goes to the next. Returns whether
    this call lapsed it (a repeat, or an offer answered meanwhile, does nothing)."""
    with transaction.atomic(durable=True):
        draw, appointment = _lock(appointment_id)
        now = clock.now()
        if appointment.state != AppointmentState.OFFERED or appointment.respond_by >= now:
            return False
        _release(draw, appointment, AppointmentState.LAPSED, "lapse", now)
    return True


def _give_up(appointment_id, from_states, to_state, event) -> Appointment | None:
    with transaction.atomic(durable=True):
        draw, appointment = _lock(appointment_id)
        if appointment.state not in from_states:
            raise Conflict("appointment_state", _("This appointment cannot change that way now."))
        return _release(draw, appointment, to_state, event, clock.now())


def _release(draw, appointment, to_state, event, now) -> Appointment | None:
    _move(appointment, [appointment.state], to_state, now)
    # The entry stays on the waiting list for the carry-over (its weight restarts at 1: it
    # had an offer) but is never offered again in this window.
    Entry.objects.filter(pk=appointment.entry_id).update(status=EntryStatus.WAITING)
    _log(draw, event, appointment, now)
    cutoff = appointment.slot.starts_at - timedelta(hours=draw.window.cancel_cutoff_hours)
    if now >= cutoff:
        return None
    return _offer(draw, appointment.slot, now)


def _offer(draw: Draw, slot: Slot, now) -> Appointment | None:
    """Offer `slot` to the best-ranked eligible waiting entry, if any."""
    local_day = str(slot.starts_at.astimezone(PARIS).isoweekday())
    candidate = (
        Entry.objects.filter(
            window_id=draw.window_id, procedure_id=slot.procedure_id,
            status=EntryStatus.WAITING, appointments__isnull=True,
        )
        .exclude(excluded_weekdays__contains=local_day)
        .filter(Q(sites__isnull=True) | Q(sites=slot.site_id))
        .order_by("rank")
        .first()
    )  # fmt: skip
    if candidate is None:
        return None
    Entry.objects.filter(pk=candidate.pk, status=EntryStatus.WAITING).update(
        status=EntryStatus.SELECTED
    )
    offer = Appointment.objects.create(
        entry=candidate, slot=slot, state=AppointmentState.OFFERED,
        respond_by=now + timedelta(hours=draw.window.offer_hours),
    )  # fmt: skip
    _log(draw, "offer", offer, now)
    return offer


def lapse_due_offers() -> int:
    """Lapse every offer whose answer time has passed (the tick runs this). Returns how many."""
    due = Appointment.objects.filter(
        state=AppointmentState.OFFERED, respond_by__lt=clock.now(), slot__window__draw__isnull=False
    )
    return sum(lapse_offer(appointment_id=pk) for pk in due.values_list("pk", flat=True))
