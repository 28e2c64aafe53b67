"""After the draw: accept, decline, cancel, lapse, and re-offers (FAIRDRAW-1 section 10).

A freed slot goes to the best-ranked waiting entry that is compatible with it and has never
been offered a slot since the draw, never to whoever asks first. These are the rules of the
engine's `Waitlist`, which the replay runs over events.log, so the log this module writes is
checked by the same code an auditor runs.

Locking: every operation locks the window's draw row first (one order for everybody), which
serialises the window's events, so events.log has no gap and each offer sees the state left
by the previous one. The partial unique constraints on appointments are the backstop.
"""

import time
from collections import deque
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts import audit, otp
from accounts.models import Role
from booking import helpers
from booking.models import Appointment, AppointmentState, Entry, EntryStatus, Slot
from config.errors import Conflict, DomainError, Forbidden
from lottery import clock
from lottery.fairdraw.events import event_line, line_hash
from lottery.models import Draw, DrawEvent, DrawState, EventLogHead
from lottery.notifications import notify_answer, notify_cancellation, notify_offers
from lottery.services import audit_draw, draw_audit_event

PARIS = ZoneInfo("Europe/Paris")
AFTER_DRAW = [DrawState.DRAWN, DrawState.HELD, DrawState.PUBLISHED]
# Lapses run in the minute tick: a batch per transaction, and no new batch after the budget
# (the next tick goes on), so that thousands of offers lapsing at one deadline neither hold the
# draw's lock for minutes nor keep the tick from its other steps.
LAPSE_BATCH = 500
LAPSE_BUDGET_SECONDS = 40.0
CANDIDATE_PAGE = 2000


def lock_appointment(appointment_id: int) -> tuple[Draw, Appointment]:
    window_id = (
        Appointment.objects.filter(pk=appointment_id).values_list("slot__window_id", flat=True)
    ).first()
    if window_id is None:
        raise Conflict("appointment_unknown", _("This appointment does not exist."))
    draw = Draw.objects.select_for_update().select_related("window").get(window_id=window_id)
    if draw.state != DrawState.PUBLISHED:
        # Nobody has been told of an offer before publication (a held draw waits for review),
        # so nobody may act on one either.
        raise Conflict("not_published", _("The results of this draw are not published yet."))
    appointment = Appointment.objects.select_related("entry", "slot").get(pk=appointment_id)
    return draw, appointment


class EventChain:
    """events.log lines appended under the draw's lock: the head is read once, the lines are
    chained in memory and saved together (one audit row per line)."""

    def __init__(self, draw: Draw, actor=None):
        self.draw, self.actor = draw, actor
        head = event_log_head(draw)
        self.seq, self.prev = head if head else (0, "")
        self.events: list[DrawEvent] = []

    def add(self, event: str, slot_code: str, entry_id: str, now) -> None:
        self.seq += 1
        line = event_line(self.seq, now, event, slot_code, entry_id, self.prev)
        self.prev = line_hash(line)
        self.events.append(DrawEvent(draw=self.draw, seq=self.seq, line=line))

    def save(self) -> None:
        DrawEvent.objects.bulk_create(self.events)
        audit.record_many(
            [
                draw_audit_event(
                    f"offer.{fields[2]}",
                    self.draw,
                    self.actor,
                    reference=f"E-{fields[4][:8].upper()}",  # Entry.pseudonym
                    seq=event.seq,
                    slot=fields[3],
                )
                for event, fields in ((event, event.line.split(",")) for event in self.events)
            ]
        )
        self.events = []


def log_event(draw: Draw, event: str, appointment: Appointment, now, actor) -> None:
    chain = EventChain(draw, actor)
    chain.add(event, appointment.slot.code, appointment.entry.entry_id, now)
    chain.save()


def event_log_head(draw: Draw) -> tuple[int, str] | None:
    """(seq, hex hash) of the draw's last events.log line, or None while the log is empty."""
    last = draw.events.order_by("-seq").only("seq", "line").first()
    return (last.seq, line_hash(last.line)) if last else None


def publish_event_heads(*, day=None) -> int:
    """Record today's head (Europe/Paris date) of every draw's events.log, and of the audit
    log, once per day (a second run the same day adds nothing). Returns how many events.log
    heads were recorded."""
    day = day or clock.now().astimezone(PARIS).date()
    audit.publish_head(day=day)
    published = 0
    for draw in Draw.objects.filter(state__in=AFTER_DRAW, events__isnull=False).distinct():
        seq, head = event_log_head(draw)
        _head, created = EventLogHead.objects.get_or_create(
            draw=draw, day=day, defaults={"seq": seq, "head": head}
        )
        if created:
            audit_draw("events.head", draw, day=day.isoformat(), seq=seq, head=head)
            published += 1
    return published


def move_appointment(appointment: Appointment, from_states, to_state, now) -> None:
    changed = Appointment.objects.filter(pk=appointment.pk, state__in=from_states).update(
        state=to_state, state_changed_at=now
    )
    if not changed:
        raise Conflict("appointment_state", _("This appointment cannot change that way now."))


def accept_offer(*, appointment_id: int, actor="applicant") -> None:
    with transaction.atomic(durable=True):
        draw, appointment = lock_appointment(appointment_id)
        now = clock.now()
        if appointment.respond_by and appointment.respond_by < now:
            raise Conflict("offer_lapsed", _("The time to answer this offer has passed."))
        move_appointment(appointment, [AppointmentState.OFFERED], AppointmentState.CONFIRMED, now)
        notify_answer(appointment, "accept")
        # A slot given by the draw itself is held from the start in FAIRDRAW's waitlist: only
        # the acceptance of a re-offer is an event of the log.
        if _was_reoffered(draw, appointment):
            log_event(draw, "accept", appointment, now, actor)


# --- Staff answers for a person without a phone or e-mail ---------------------------------------

STAFF_ANSWERS = ("accept", "decline")
ANSWERING_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})


def _check_may_answer_for(actor, appointment: Appointment, prefecture_id: int) -> None:
    """An agent or supervisor of the prefecture, or the approved helper who registered the
    entry; otherwise 404 for another prefecture's appointment, 403 for anyone else."""
    if getattr(actor, "prefecture_id", None) != prefecture_id:
        raise DomainError("not_found", _("No such appointment."), http_status=404)
    role = getattr(actor, "role", "")
    helper_of_entry = (
        role == Role.HELPER
        and appointment.entry.registered_by_id == actor.pk
        and helpers.is_approved(helpers.membership_of(actor), actor)
    )
    if role not in ANSWERING_ROLES and not helper_of_entry:
        raise Forbidden(
            "forbidden",
            _("Only an agent or a supervisor of this prefecture, or the helper who registered "
              "this entry, can answer for the person."),
        )  # fmt: skip


def answer_offer_for_person(*, appointment_id: int, answer: str, actor) -> Appointment | None:
    """Accept or decline, at the counter or by their helper, the offer of a person whose entry
    has no phone or e-mail (they could not answer it themselves). One transaction: the same
    state change and events.log line as the applicant's own answer, and an audit row
    `offer.answered_for_person` naming the staff member. Refused: another prefecture's
    appointment (as not found), a role other than agent or supervisor unless the approved
    helper who registered the entry, an entry with a contact (the person answers themselves),
    an offer no longer waiting or past its deadline. Returns the new offer of the slot after a
    decline, if any."""
    if answer not in STAFF_ANSWERS:
        raise DomainError("answer_invalid", _("Choose to accept or to decline the offer."))
    with transaction.atomic(durable=True):
        draw, appointment = lock_appointment(appointment_id)
        _check_may_answer_for(actor, appointment, draw.window.prefecture_id)
        if appointment.entry.contact_id is not None:
            raise Conflict(
                "entry_has_contact",
                _("This person has a phone or an e-mail: they answer the offer themselves."),
            )
        if appointment.state != AppointmentState.OFFERED:
            raise Conflict("appointment_state", _("This appointment cannot change that way now."))
        now = clock.now()
        if appointment.respond_by and appointment.respond_by < now:
            raise Conflict("offer_lapsed", _("The time to answer this offer has passed."))
        new_offer = None
        if answer == "accept":
            move_appointment(
                appointment, [AppointmentState.OFFERED], AppointmentState.CONFIRMED, now
            )
            if _was_reoffered(draw, appointment):
                log_event(draw, "accept", appointment, now, actor)
        else:
            new_offer = _release(
                draw, appointment, AppointmentState.DECLINED, "decline", now, actor
            )
        audit.record(
            "offer.answered_for_person",
            actor=actor,
            target=appointment,
            prefecture_id=draw.window.prefecture_id,
            reference=appointment.entry.pseudonym,
            answer=answer,
            role=actor.role,
        )
    return new_offer


def _was_reoffered(draw: Draw, appointment: Appointment) -> bool:
    marker = f",offer,{appointment.slot.code},{appointment.entry.entry_id},"
    return draw.events.filter(line__contains=marker).exists()


def decline_offer(*, appointment_id: int, actor="applicant") -> Appointment | None:
    """Decline an offer (drawn or re-offered); the slot goes to the next. Returns the new offer."""
    return _give_up(
        appointment_id, [AppointmentState.OFFERED], AppointmentState.DECLINED, "decline", actor
    )


def cancel_appointment(*, appointment_id: int, actor="applicant") -> Appointment | None:
    """Cancel a confirmed appointment; before the cut-off its slot is offered again."""
    return _give_up(
        appointment_id, [AppointmentState.CONFIRMED], AppointmentState.CANCELLED, "cancel", actor
    )


def cancel_for_staff(*, appointment_id: int, actor) -> Appointment | None:
    """A supervisor-approved cancellation (lottery.four_eyes; a desk closed by a strike): the
    appointment, drawn or confirmed, is cancelled and its slot offered to the next, logged in
    events.log as a cancellation. A re-offer still waiting for its answer cannot be cancelled
    (in FAIRDRAW's waitlist nobody holds it yet): it lapses or is declined."""
    with transaction.atomic():
        draw, appointment = lock_appointment(appointment_id)
        holds = appointment.state == AppointmentState.CONFIRMED or (
            appointment.state == AppointmentState.OFFERED and not _was_reoffered(draw, appointment)
        )
        if not holds:
            raise Conflict("appointment_state", _("This appointment cannot change that way now."))
        notify_cancellation(appointment)
        return _release(draw, appointment, AppointmentState.CANCELLED, "cancel", clock.now(), actor)


def _give_up(appointment_id, from_states, to_state, event, actor) -> Appointment | None:
    with transaction.atomic(durable=True):
        draw, appointment = lock_appointment(appointment_id)
        if appointment.state not in from_states:
            raise Conflict("appointment_state", _("This appointment cannot change that way now."))
        notify_answer(appointment, event)
        return _release(draw, appointment, to_state, event, clock.now(), actor)


def _release(draw, appointment, to_state, event, now, actor=None) -> Appointment | None:
    move_appointment(appointment, [appointment.state], to_state, now)
    # The entry stays on the waiting list for the carry-over (its weight restarts at 1: it
    # had an offer) but is never offered again in this window.
    Entry.objects.filter(pk=appointment.entry_id).update(status=EntryStatus.WAITING)
    slot, chain = appointment.slot, EventChain(draw, actor)
    chain.add(event, slot.code, appointment.entry.entry_id, now)
    chosen = best_waiting(draw, [slot]).get(slot.pk) if _reofferable(draw, slot, now) else None
    if chosen is not None:
        chain.add("offer", slot.code, chosen[1], now)
    # The audit rows go last: the chain's head is the last lock a transaction takes.
    offers = _create_offers(draw, [(slot, *chosen)], now) if chosen is not None else [None]
    chain.save()
    return offers[0]


def _reofferable(draw: Draw, slot: Slot, now) -> bool:
    return now < slot.starts_at - timedelta(hours=draw.window.cancel_cutoff_hours)


def _local_weekday(slot: Slot) -> str:
    return str(slot.starts_at.astimezone(PARIS).isoweekday())


def best_waiting(draw: Draw, slots: list[Slot]) -> dict[int, tuple[int, str]]:
    """Slot pk -> (entry pk, entry_id) of the waiting entry each freed slot goes to, exactly as
    if the slots were offered one after the other in the given order: each to the best-ranked
    compatible waiting entry never offered a slot in this window and not taken by an earlier
    slot. (Walking the entries in rank order and giving each to the earliest open slot it fits
    gives that same matching: an entry passed over by an earlier compatible slot was passed over
    for a better-ranked one. An entry fits only slots of its procedure, so each procedure is
    walked on its own.) The entries are read by pages in rank order, only as far as needed."""
    kinds: dict[int, dict[tuple[int, str], deque]] = {}  # procedure -> (site, weekday) -> slots
    for position, slot in enumerate(slots):
        by_kind = kinds.setdefault(slot.procedure_id, {})
        by_kind.setdefault((slot.site_id, _local_weekday(slot)), deque()).append(position)
    chosen: dict[int, tuple[int, str]] = {}
    for procedure_id, by_kind in kinds.items():
        open_slots = sum(map(len, by_kind.values()))
        for pk, entry_id, excluded, accepted in _waiting_by_rank(draw, procedure_id):
            best = None
            for (site_id, weekday), queue in by_kind.items():
                if (
                    queue
                    and weekday not in excluded
                    and (accepted is None or site_id in accepted)
                    and (best is None or queue[0] < best[0])
                ):
                    best = queue
            if best is not None:
                chosen[slots[best.popleft()].pk] = (pk, entry_id)
                open_slots -= 1
                if not open_slots:
                    break
    return chosen


def _waiting_by_rank(draw: Draw, procedure_id: int):
    """(pk, entry_id, excluded weekdays, accepted site pks or None) of the window's waiting
    entries of a procedure never offered a slot, in rank order, read by pages."""
    waiting = Entry.objects.filter(
        window_id=draw.window_id, procedure_id=procedure_id, status=EntryStatus.WAITING,
        appointments__isnull=True,
    ).order_by("rank")  # fmt: skip
    last_rank = 0
    while True:
        page = list(
            waiting.filter(rank__gt=last_rank).values_list(
                "pk", "entry_id", "excluded_weekdays", "rank"
            )[:CANDIDATE_PAGE]
        )
        if not page:
            return
        last_rank = page[-1][3]
        sites = _sites_of([row[0] for row in page])
        for pk, entry_id, excluded, _rank in page:
            yield pk, entry_id, excluded, sites.get(pk)


def _sites_of(entry_pks: list[int]) -> dict[int, set[int]]:
    """Entry pk -> its accepted site pks (an entry absent from the result accepts any site)."""
    through = Entry.sites.through.objects.filter(entry_id__in=entry_pks)
    accepted: dict[int, set[int]] = {}
    for entry_pk, site_pk in through.values_list("entry_id", "site_id"):
        accepted.setdefault(entry_pk, set()).add(site_pk)
    return accepted


def _create_offers(draw: Draw, given: list[tuple[Slot, int, str]], now) -> list[Appointment]:
    """Offer each slot to its chosen entry ((slot, entry pk, entry_id), from `best_waiting`):
    statuses, appointments and the messages that tell them (the caller logs the events)."""
    respond_by = now + timedelta(hours=draw.window.offer_hours)
    entry_pks = [entry_pk for _slot, entry_pk, _entry_id in given]
    moved = Entry.objects.filter(pk__in=entry_pks, status=EntryStatus.WAITING).update(
        status=EntryStatus.SELECTED
    )
    if moved != len(entry_pks):  # the draw's lock makes this impossible: fail loudly
        raise Conflict("entry_state", _("An entry changed while its slot was being offered."))
    offers = Appointment.objects.bulk_create(
        Appointment(entry_id=entry_pk, slot=slot, state=AppointmentState.OFFERED,
                    respond_by=respond_by)
        for slot, entry_pk, _entry_id in given
    )  # fmt: skip
    notify_offers(draw, offers)
    return offers


# What an applicant may do with their appointment: the service, and the state it acts on
# (the API and the "My entries" page both take this table).
APPLICANT_ACTIONS = {
    "accept": (accept_offer, AppointmentState.OFFERED),
    "decline": (decline_offer, AppointmentState.OFFERED),
    "cancel": (cancel_appointment, AppointmentState.CONFIRMED),
}


def lapse_due_offers(
    *, batch_size: int = LAPSE_BATCH, time_budget: float = LAPSE_BUDGET_SECONDS
) -> int:
    """Lapse every published offer whose answer time has passed and offer its slot to the next
    (the tick runs this): window by window, `batch_size` offers per transaction, and no new
    batch once `time_budget` seconds have passed (the next tick goes on). Returns how many."""
    started, lapsed = time.monotonic(), 0
    windows = (
        Appointment.objects.filter(
            state=AppointmentState.OFFERED, respond_by__lt=clock.now(),
            slot__window__draw__state=DrawState.PUBLISHED,
        )
        .values_list("slot__window_id", flat=True)
        .distinct()
        .order_by("slot__window_id")
    )  # fmt: skip
    for window_id in list(windows):
        while time.monotonic() - started < time_budget:
            done = lapse_batch(window_id=window_id, limit=batch_size)
            lapsed += done
            if done < batch_size:
                break
    return lapsed


# After a lockout, the person gets this long again to answer.
LOCKOUT_GRACE = timedelta(hours=2)


def _extend_for_lockouts(draw: Draw, now) -> None:
    """A lockout never makes an offer lapse: an offer whose deadline fell while its contact was
    locked (a stranger can lock a contact by typing wrong codes) gets until the lock's end plus
    LOCKOUT_GRACE. A lock lasts at most otp.LOCK_MAX, so it began after its end minus that."""
    locked_until = "entry__contact__device__locked_until"
    caught = Appointment.objects.filter(
        slot__window_id=draw.window_id,
        state=AppointmentState.OFFERED,
        respond_by__lt=now,
        **{f"{locked_until}__gt": F("respond_by")},
        **{f"{locked_until}__lte": F("respond_by") + otp.LOCK_MAX},
    ).values_list("pk", locked_until)
    for pk, until in caught:
        Appointment.objects.filter(pk=pk).update(respond_by=until + LOCKOUT_GRACE)
        audit_draw("offer.extended_after_lockout", draw, appointment=pk)


def lapse_batch(*, window_id: int, limit: int = LAPSE_BATCH) -> int:
    """One transaction: up to `limit` of the window's due offers lapse, in order of deadline
    then creation, and their slots are offered again. The events.log lines are those of lapsing
    them one by one in that order (lapse, then its re-offer, then the next lapse); the replay
    checks every offer. Returns how many lapsed."""
    with transaction.atomic(durable=True):
        draw = Draw.objects.select_for_update().select_related("window").get(window_id=window_id)
        if draw.state != DrawState.PUBLISHED:
            return 0
        now = clock.now()
        _extend_for_lockouts(draw, now)
        due = list(
            Appointment.objects.filter(
                slot__window_id=window_id, state=AppointmentState.OFFERED, respond_by__lt=now
            )
            .select_related("entry", "slot")
            .order_by("respond_by", "pk")[:limit]
        )
        if not due:
            return 0
        changed = Appointment.objects.filter(
            pk__in=[offer.pk for offer in due], state=AppointmentState.OFFERED
        ).update(state=AppointmentState.LAPSED, state_changed_at=now)
        if changed != len(due):  # the draw's lock makes this impossible: fail loudly
            raise Conflict("appointment_state", _("An offer changed while it was lapsing."))
        Entry.objects.filter(pk__in=[offer.entry_id for offer in due]).update(
            status=EntryStatus.WAITING
        )
        freed = [offer.slot for offer in due if _reofferable(draw, offer.slot, now)]
        chosen = best_waiting(draw, freed)
        chain, given = EventChain(draw), []
        for offer in due:
            chain.add("lapse", offer.slot.code, offer.entry.entry_id, now)
            if offer.slot.pk in chosen:
                entry_pk, entry_id = chosen[offer.slot.pk]
                chain.add("offer", offer.slot.code, entry_id, now)
                given.append((offer.slot, entry_pk, entry_id))
        _create_offers(draw, given, now)
        chain.save()  # last: the audit chain's head is the last lock taken
    return len(due)
