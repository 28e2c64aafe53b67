"""Check-in at the desk: an agent reads the convocation's code, compares the person's identity
with their papers, and marks them present.

`read_for_checkin` reads the code (booking.checkin_token) and, for a valid one, the person's
identity: a staff read of an identity, audited ("identity.read") in the same transaction.
`check_in` moves a confirmed appointment of today to checked in, once: the conditional UPDATE
(`... WHERE state = confirmed`, on the appointment's own row, so that PostgreSQL re-checks it
after waiting for a concurrent check-in) is the guard. The same code at two desks at once gives
one check-in, and the other desk is told when and where the first one happened. Every refusal
is logged (reason and ids, never the code nor anything about the person) and audited
("checkin.refused", with its reason). The time of a check-in is the database's.
"""

import logging
import re
from datetime import date

from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Person, Role
from booking.checkin_token import PARIS, Refusal, TokenRefused, read_token, refuse_unless_due
from booking.models import Appointment, AppointmentState
from config.errors import DomainError, Forbidden

logger = logging.getLogger(__name__)

DESK_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
# A desk is a short name an agent types ("3", "Guichet B"): it starts with a letter or digit,
# so that it can never be read as a formula in the day's CSV export either.
DESK_RE = re.compile(r"^\w[\w .-]{0,19}\Z")
DESK_MESSAGE = _("Name the desk with 1 to 20 letters, digits, spaces, . or -.")
CHECKIN_FIELDS = ["state", "state_changed_at", "checked_in_at", "checkin_desk", "checked_in_by"]


def today() -> date:
    """The date in Europe/Paris: a check-in code is valid on its appointment's day."""
    return timezone.localdate(timezone=PARIS)


def _check_desk_staff(actor) -> None:
    if getattr(actor, "role", "") not in DESK_ROLES or actor.prefecture_id is None:
        raise Forbidden(
            "forbidden", _("Only an agent or a supervisor of the prefecture can check people in.")
        )


def _checked_desk(desk: str) -> str:
    desk = (desk or "").strip()
    if not DESK_RE.match(desk):
        raise DomainError("desk_invalid", DESK_MESSAGE)
    return desk


def _record_refusal(refusal: TokenRefused, *, actor, desk: str) -> None:
    """Log and audit a refused attempt, in a transaction of its own (nothing else changed)."""
    appointment = refusal.appointment
    logger.warning(
        "check-in refused: %s (appointment %s, prefecture %s, staff user %s)",
        refusal.code,
        appointment.pk if appointment else "-",
        actor.prefecture_id,
        actor.pk,
    )
    first = {}
    if refusal.code == Refusal.ALREADY_CHECKED_IN:
        first = {"first_at": appointment.checked_in_at, "first_desk": appointment.checkin_desk}
    with transaction.atomic(durable=True):
        audit.record(
            "checkin.refused",
            actor=actor,
            target=appointment,
            prefecture_id=actor.prefecture_id,
            reference=appointment.entry.pseudonym if appointment else "",
            reason=refusal.code,
            desk=desk,
            **first,
        )


def _read(text: str, actor, desk: str) -> Appointment:
    try:
        return read_token(text, actor.prefecture_id, today())
    except TokenRefused as refusal:
        _record_refusal(refusal, actor=actor, desk=desk)
        raise


def read_for_checkin(*, text: str, actor, desk: str) -> Appointment:
    """The appointment of a valid check-in code, its entry's person loaded (decrypted) for the
    agent to compare with the papers: an audited read. Raises TokenRefused (logged, audited)
    for a refused code, Forbidden for a role other than agent or supervisor."""
    _check_desk_staff(actor)
    desk = _checked_desk(desk)
    appointment = _read(text, actor, desk)
    with transaction.atomic(durable=True):
        person = Person.objects.get(pk=appointment.entry.person_id)
        audit.record(
            "identity.read",
            actor=actor,
            target=appointment,
            prefecture_id=actor.prefecture_id,
            reference=appointment.entry.pseudonym,
            purpose="checkin",
            desk=desk,
        )
    appointment.entry.person = person
    return appointment


def _own_appointment(appointment_id: int, actor) -> Appointment:
    appointment = (
        Appointment.objects.select_related("entry", "slot__site", "slot__procedure")
        .filter(pk=appointment_id, slot__window__prefecture_id=actor.prefecture_id)
        .first()
    )
    if appointment is None:  # another prefecture's looks exactly like a missing one
        raise DomainError("not_found", _("No such appointment."), http_status=404)
    return appointment


def _refusal(appointment: Appointment) -> TokenRefused | None:
    try:
        refuse_unless_due(appointment, today())
    except TokenRefused as refusal:
        return refusal
    return None


def _not_confirmed(appointment: Appointment) -> TokenRefused:
    return TokenRefused(
        Refusal.CANCELLED, _("This appointment is not confirmed: no check-in."),
        appointment=appointment,
    )  # fmt: skip


def check_in(*, appointment_id: int, actor, desk: str) -> Appointment:
    """Confirmed -> checked in, today, once, with the database's time, the desk and the agent;
    audited ("appointment.checked_in"). Refused (TokenRefused, logged and audited) when the
    appointment is already checked in (the message gives when and at which desk), not
    confirmed, or not today's; DomainError for another prefecture's (as not found)."""
    _check_desk_staff(actor)
    desk = _checked_desk(desk)
    with transaction.atomic(durable=True):
        appointment = _own_appointment(appointment_id, actor)
        refusal = _refusal(appointment)
        if refusal is None:
            claimed = Appointment.objects.filter(
                pk=appointment.pk, state=AppointmentState.CONFIRMED
            ).update(
                state=AppointmentState.CHECKED_IN,
                state_changed_at=Now(),
                checked_in_at=Now(),
                checkin_desk=desk,
                checked_in_by=actor,
            )
            appointment.refresh_from_db(fields=CHECKIN_FIELDS)
            # Another desk came first: its check-in is committed now, and says when and where.
            refusal = None if claimed else _refusal(appointment) or _not_confirmed(appointment)
        if refusal is None:
            audit.record(
                "appointment.checked_in",
                actor=actor,
                target=appointment,
                prefecture_id=actor.prefecture_id,
                reference=appointment.entry.pseudonym,
                desk=desk,
                slot=appointment.slot.code,
            )
    if refusal is not None:
        _record_refusal(refusal, actor=actor, desk=desk)
        raise refusal
    return appointment


def check_in_with_code(*, text: str, actor, desk: str) -> Appointment:
    """The agent's "present" after reading the identity: the code is read again (it is what
    binds the check-in to the convocation shown), then `check_in`."""
    _check_desk_staff(actor)
    appointment = _read(text, actor, _checked_desk(desk))
    return check_in(appointment_id=appointment.pk, actor=actor, desk=desk)
