"""Absences: a confirmed appointment whose time has passed without a check-in becomes a no-show,
every evening by a task (`mark_due_absences`) or earlier by hand, line by line, from the day
list (`record_absence`, an agent or supervisor of the prefecture, after the appointment's time).

An absence is the events.log line `no_show` (FAIRDRAW-1 section 10): the slot's time has passed,
so it frees nothing and is offered to nobody, and the entry is never offered again in this
window; the replay checks it like any other line. It is also counted on the person
(`Person.absences`, `last_absence_at`), for their later entries: agents see the count at
check-in, and a window whose published rule says so gives weight 1 to an entry of a person
absent within a year (lottery.services.entry_rules). The entry keeps its status (selected):
an absent person is not carried to the next window; they register again.

Locking is that of services_offers: the window's draw row first, then the appointments (a
check-in at the same moment waits, then finds the appointment absent, or the absence finds it
checked in), then the people, and the audit chain's head last.
"""

import time
from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts.models import Person, Role
from booking.models import Appointment, AppointmentState
from config.errors import Conflict, DomainError
from lottery import clock
from lottery.models import Draw, DrawState
from lottery.services_offers import EventChain, lock_appointment, log_event, move_appointment

ABSENCE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
BATCH = 500
BUDGET_SECONDS = 40.0


def _check_agent(actor, prefecture_id: int) -> None:
    if getattr(actor, "prefecture_id", None) != prefecture_id:
        raise DomainError("not_found", _("No such appointment."), http_status=404)
    if actor.role not in ABSENCE_ROLES:
        raise DomainError(
            "forbidden",
            _("Only an agent or a supervisor of this prefecture can do this."),
            http_status=403,
        )


def _count_on_people(person_ids: list[int], now) -> None:
    """One more absence for each person (two for a person absent twice in the batch)."""
    by_count: dict[int, list[int]] = {}
    for person_id, count in Counter(person_ids).items():
        by_count.setdefault(count, []).append(person_id)
    for count, people in by_count.items():
        Person.objects.filter(pk__in=people).update(
            absences=F("absences") + count, last_absence_at=now
        )


def record_absence(*, appointment_id: int, actor) -> Appointment:
    """By hand, from the day list: the confirmed appointment, whose time has passed, becomes a
    no-show (events.log `no_show`, its audit row, the person's count). Refused (DomainError)
    for another prefecture's appointment (as not found), a role other than agent or
    supervisor, before the appointment's time, and when it is not confirmed (checked in,
    cancelled, already absent)."""
    with transaction.atomic(durable=True):
        draw, appointment = lock_appointment(appointment_id)
        _check_agent(actor, draw.window.prefecture_id)
        now = clock.now()
        if appointment.slot.starts_at > now:
            raise Conflict("too_early", _("This appointment's time has not come yet."))
        if appointment.state != AppointmentState.CONFIRMED:
            raise Conflict(
                "appointment_state",
                _("Only a confirmed appointment without a check-in can be marked absent."),
            )
        move_appointment(appointment, [AppointmentState.CONFIRMED], AppointmentState.NO_SHOW, now)
        _count_on_people([appointment.entry.person_id], now)
        log_event(draw, "no_show", appointment, now, actor)  # last: its audit row takes the head
    appointment.state = AppointmentState.NO_SHOW
    return appointment


def mark_due_absences(*, batch_size: int = BATCH, time_budget: float = BUDGET_SECONDS) -> int:
    """Every confirmed appointment of a published draw whose time has passed becomes a no-show
    (the evening task): window by window, `batch_size` per transaction, no new batch after
    `time_budget` seconds (the next run goes on). Idempotent. Returns how many."""
    started, marked = time.monotonic(), 0
    windows = (
        Appointment.objects.filter(
            state=AppointmentState.CONFIRMED,
            slot__starts_at__lt=clock.now(),
            slot__window__draw__state=DrawState.PUBLISHED,
        )
        .values_list("slot__window_id", flat=True)
        .distinct()
        .order_by("slot__window_id")
    )
    for window_id in list(windows):
        while time.monotonic() - started < time_budget:
            done = absence_batch(window_id=window_id, limit=batch_size)
            marked += done
            if done < batch_size:
                break
    return marked


def absence_batch(*, window_id: int, limit: int = BATCH) -> int:
    """One transaction: up to `limit` of the window's confirmed appointments whose time has
    passed become no-shows, in time order, one events.log line each. Returns how many."""
    with transaction.atomic(durable=True):
        draw = Draw.objects.select_for_update().select_related("window").get(window_id=window_id)
        if draw.state != DrawState.PUBLISHED:
            return 0
        now = clock.now()
        # Locked: a check-in at this moment waits for this transaction, then finds them absent.
        due = list(
            Appointment.objects.select_for_update(of=("self",))
            .filter(
                slot__window_id=window_id,
                state=AppointmentState.CONFIRMED,
                slot__starts_at__lt=now,
            )
            .select_related("entry", "slot")
            .order_by("slot__starts_at", "pk")[:limit]
        )
        if not due:
            return 0
        changed = Appointment.objects.filter(
            pk__in=[appointment.pk for appointment in due], state=AppointmentState.CONFIRMED
        ).update(state=AppointmentState.NO_SHOW, state_changed_at=now)
        if changed != len(due):  # the row locks make this impossible: fail loudly
            raise Conflict("appointment_state", _("An appointment changed while marked absent."))
        _count_on_people([appointment.entry.person_id for appointment in due], now)
        chain = EventChain(draw)
        for appointment in due:
            chain.add("no_show", appointment.slot.code, appointment.entry.entry_id, now)
        chain.save()  # last: the audit chain's head is the last lock taken
    return len(due)
