"""Four eyes: the staff actions that could bend a draw are requests, applied only when a second
supervisor of the same prefecture approves them.

- urgency: an entry goes to tier 0 (before the freeze);
- early close: an open window closes now;
- cancellation: a drawn or confirmed appointment is cancelled and its slot re-offered.

An agent or a supervisor requests; a different supervisor decides (the database refuses a
decision by the requester too). Each request and decision writes its audit row in the same
transaction, and the public draw page counts them (`counts`). Manual assignments and undoing a
check-in do not exist yet; they will be request kinds here when they do.
"""

from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Role
from booking import services as booking_services
from booking.models import (
    ACTIVE_ENTRY_STATUSES,
    HOLDING_STATES,
    Appointment,
    Entry,
    Window,
    WindowState,
)
from config.errors import Conflict, Forbidden
from lottery import clock, services_offers
from lottery.models import Draw, DrawState, RequestKind, RequestState, StaffRequest

REQUESTERS = {Role.AGENT, Role.SUPERVISOR}


def request_urgency(*, entry_id: int, actor, reason: str) -> StaffRequest:
    entry = Entry.objects.select_related("window").filter(pk=entry_id).first()
    if entry is None or entry.status not in ACTIVE_ENTRY_STATUSES:
        raise Conflict("entry_state", _("This entry cannot be made urgent."))
    _before_freeze(entry.window)
    return _create(actor, entry.window, RequestKind.URGENCY, reason, entry=entry)


def request_early_close(*, window_id: int, actor, reason: str) -> StaffRequest:
    window = Window.objects.get(pk=window_id)
    if window.state != WindowState.OPEN:
        raise Conflict("window_not_open", _("Only an open window can be closed early."))
    return _create(actor, window, RequestKind.EARLY_CLOSE, reason)


def request_cancellation(*, appointment_id: int, actor, reason: str) -> StaffRequest:
    appointment = Appointment.objects.select_related("slot__window").get(pk=appointment_id)
    if appointment.state not in HOLDING_STATES:
        raise Conflict("appointment_state", _("This appointment cannot change that way now."))
    return _create(
        actor, appointment.slot.window, RequestKind.CANCELLATION, reason, appointment=appointment
    )


def _create(actor, window: Window, kind: str, reason: str, **target) -> StaffRequest:
    if getattr(actor, "role", "") not in REQUESTERS or actor.prefecture_id != window.prefecture_id:
        raise Forbidden("not_allowed", _("Your role does not allow this request."))
    with transaction.atomic(durable=True):
        duplicate = StaffRequest.objects.select_for_update().filter(
            window=window, kind=kind, state=RequestState.PENDING, **target
        )
        if duplicate.exists():
            raise Conflict("request_pending", _("The same request is already waiting."))
        request = StaffRequest.objects.create(
            window=window, kind=kind, reason=reason, requested_by=actor, **target
        )
        _audit(f"four_eyes.requested.{kind}", request, actor)
    return request


def decide(*, request_id: int, actor, approve: bool, note: str = "") -> StaffRequest:
    """Approve (and apply) or refuse a pending request. Only a supervisor of the request's
    prefecture who did not make it may; a request is decided once."""
    with transaction.atomic(durable=True):
        request = (
            StaffRequest.objects.select_for_update(of=("self",))
            .select_related("window")
            .get(pk=request_id)
        )
        _check_decider(request, actor)
        if approve:
            _apply(request, actor)
        request.state = RequestState.APPROVED if approve else RequestState.REFUSED
        request.decided_by, request.decided_at = actor, clock.now()
        request.decision_note = note
        request.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        _audit(f"four_eyes.{request.state}.{request.kind}", request, actor)
    return request


def _check_decider(request: StaffRequest, actor) -> None:
    if actor.role != Role.SUPERVISOR or actor.prefecture_id != request.window.prefecture_id:
        raise Forbidden("not_allowed", _("Only a supervisor of this prefecture can decide."))
    if actor.pk == request.requested_by_id:
        raise Forbidden("own_request", _("A second supervisor must decide your own request."))
    if request.state != RequestState.PENDING:
        raise Conflict("request_decided", _("This request has already been decided."))


def _apply(request: StaffRequest, actor) -> None:
    if request.kind == RequestKind.URGENCY:
        _before_freeze(request.window)
        Entry.objects.filter(pk=request.entry_id).update(urgent_approved=True, tier=0)
        audit.record(
            "entry.made_urgent",
            actor=actor,
            target=request.entry,
            prefecture_id=request.window.prefecture_id,
            request=request.pk,
        )
    elif request.kind == RequestKind.EARLY_CLOSE:
        booking_services.close_window_early(window_id=request.window_id, actor=actor)
    else:
        services_offers.cancel_for_staff(appointment_id=request.appointment_id, actor=actor)


def _before_freeze(window: Window) -> None:
    frozen = Draw.objects.filter(window=window).exclude(state=DrawState.ANNOUNCED).exists()
    if frozen or window.state not in (WindowState.SCHEDULED, WindowState.OPEN, WindowState.CLOSED):
        raise Conflict("window_frozen", _("The window's entries are frozen for its draw."))


def _audit(action: str, request: StaffRequest, actor) -> None:
    audit.record(
        action,
        actor=actor,
        target=request,
        prefecture_id=request.window.prefecture_id,
        reference=request.entry.pseudonym if request.entry_id else "",
        code=request.window.code,
    )


def counts(window_id: int) -> dict[str, dict[str, int]]:
    """Per kind: how many were requested, approved and refused (for the public draw page)."""
    rows = (
        StaffRequest.objects.filter(window_id=window_id)
        .values("kind")
        .annotate(
            requested=Count("id"),
            approved=Count("id", filter=Q(state=RequestState.APPROVED)),
            refused=Count("id", filter=Q(state=RequestState.REFUSED)),
        )
    )
    found = {row.pop("kind"): row for row in rows}
    empty = {"requested": 0, "approved": 0, "refused": 0}
    return {kind: found.get(kind, empty) for kind in RequestKind.values}
