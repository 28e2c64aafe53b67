"""The draw's timeline as business operations: announce, commit, freeze, reveal, beacon, review,
publish (FAIRDRAW-1 section 11). The draw itself is in `services_run.py`.

Each function is one transaction with its audit row, and each state change is claimed with a
conditional UPDATE (`... WHERE state = expected`), so a repeat, or two workers at once, change
the record once. Timestamps come from `lottery.clock` (see there why). Audit rows carry codes,
digests and counts only, never anything about a person.
"""

import logging
import secrets
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Role
from booking import services as booking_services
from booking.duplicates import review_counts
from booking.models import (
    Appointment,
    AppointmentState,
    Entry,
    EntryStatus,
    Procedure,
    Slot,
    Window,
    WindowState,
)
from config.errors import Conflict, DomainError
from lottery import beacon, blobs, clock, notifications
from lottery.background import in_background
from lottery.checks import duplicate_flags_check
from lottery.fairdraw import canonical, crypto
from lottery.models import BeaconMode, Draw, DrawParty, DrawState, OperatorSecret

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
MAX_CARRY_BONUS = 3
BATCH_TIMEOUT_S = 600
UNANNOUNCEABLE = [WindowState.CLOSED, WindowState.DRAWN, WindowState.PUBLISHED]


def audit_draw(action: str, draw: Draw, actor=None, **data) -> None:
    audit.record_many([draw_audit_event(action, draw, actor, **data)])


def draw_audit_event(action: str, draw: Draw, actor=None, **data):
    """An unsaved audit row about a draw (`audit.record_many` writes many at once)."""
    return audit.event_for(
        action,
        actor=actor,
        target=draw,
        prefecture_id=draw.window.prefecture_id,
        code=draw.window.code,
        **data,
    )


# Sorting a million entries (by entry_id at the freeze, by registration time for the checks)
# spilled to disk with the default 4 MB (2.7 s instead of 1.25 s for the latter), and the
# draw's hash join must stay in one batch to keep the load's order (services_run).
BATCH_WORK_MEM = "256MB"
# Outcome messages: batches of notifications.BATCH_SIZE entries, no new batch after this.
NOTIFY_BUDGET_SECONDS = 40.0


def batch_settings() -> None:
    """The freeze and the draw are batch jobs: on PostgreSQL, lift the web-request statement
    timeout, give sorts and hashes room, and store the draw's files with lz4, for this
    transaction only (SET LOCAL ends with it). results.csv is about 110 MB for a million
    entries, mostly hex keys: pglz spends 3.6 s failing to compress it, lz4 stores it in 1.5 s
    (entries.csv, 70 MB, likewise); values read back the same whatever their compression."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s", [f"{BATCH_TIMEOUT_S}s"])
        cursor.execute("SET LOCAL work_mem = %s", [BATCH_WORK_MEM])
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL default_toast_compression = 'lz4'")


def locked_draw(window_id: int) -> Draw:
    draw = (
        Draw.objects.select_for_update(of=("self",))
        .select_related("window")
        .filter(window_id=window_id)
    )
    found = draw.first()
    if found is None:
        raise Conflict("draw_not_announced", _("This window has no announced draw."))
    return found


# --- T0 announcement ---------------------------------------------------------------------------


def announce_draw(*, window_id: int, beacon_mode: str = BeaconMode.QUICKNET, actor=None) -> bool:
    """Create the draw record of a window before it closes: the operator's secret (CSPRNG) and
    its commitment, and the beacon round R fixed by the reveal deadline. Returns whether this
    call announced it (False if it already was)."""
    with transaction.atomic(durable=True):
        window = Window.objects.select_for_update().get(pk=window_id)
        if Draw.objects.filter(window=window).exists():
            return False
        if window.state in UNANNOUNCEABLE:
            raise Conflict("window_closed", _("A draw must be announced before the window closes."))
        now = clock.now()
        round_number = beacon.round_for(window.reveal_deadline)
        draw = Draw.objects.create(
            window=window,
            announced_at=now,
            beacon_mode=beacon_mode,
            beacon_round=round_number if beacon_mode == BeaconMode.QUICKNET else None,
        )
        secret = secrets.token_bytes(32)
        party = DrawParty.objects.create(
            draw=draw,
            party_id=window.prefecture.code,
            commitment=crypto.commitment(window.code, window.prefecture.code, secret).hex(),
            is_operator=True,
            committed_at=now,
        )
        OperatorSecret.objects.create(party=party, secret=secret.hex())
        audit_draw(
            "draw.announced", draw, actor, commitment=party.commitment, round=draw.beacon_round
        )
    return True


def register_party(*, window_id: int, party_id: str, commitment: str, actor) -> DrawParty:
    """An auditor of the window's prefecture adds a party with its commitment, before the close."""
    party_id, commitment = party_id.strip().upper(), commitment.strip().lower()
    if not canonical.CODE_RE.fullmatch(party_id):
        raise DomainError("party_id_invalid", _("A party id is 1 to 32 of A-Z, 0-9 and _."))
    if not is_hex(commitment, 32):
        raise DomainError("commitment_invalid", _("A commitment is 64 hexadecimal characters."))
    with transaction.atomic(durable=True):
        draw = locked_draw(window_id)
        if actor.role != Role.AUDITOR or actor.prefecture_id != draw.window.prefecture_id:
            raise DomainError(
                "forbidden", _("Only an auditor of this prefecture can do this."), http_status=403
            )
        if draw.state != DrawState.ANNOUNCED or draw.window.state in UNANNOUNCEABLE:
            raise Conflict("parties_closed", _("Parties can join only before the window closes."))
        if draw.parties.filter(party_id=party_id).exists():
            raise Conflict("party_exists", _("This party id is already taken in this draw."))
        party = DrawParty.objects.create(
            draw=draw,
            party_id=party_id,
            commitment=commitment,
            registered_by=actor,
            committed_at=clock.now(),
        )
        audit_draw("draw.party_registered", draw, actor, party_id=party_id, commitment=commitment)
    return party


def is_hex(value: str, size: int) -> bool:
    try:
        return len(bytes.fromhex(value)) == size and value == value.lower()
    except ValueError:
        return False


class PhaseTimer:
    """Phase durations for the log: a draw's cost is worth seeing in production too."""

    def __init__(self):
        self.start, self.laps = time.perf_counter(), []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{name} {now - self.start:.1f} s")
        self.start = now

    def __str__(self) -> str:
        return ", ".join(self.laps)


# --- T2 freeze ---------------------------------------------------------------------------------


def freeze_draw(*, window_id: int, actor=None) -> bool:
    """At the close: write entries.csv and slots.csv from the database, with tiers and weights
    by the published rules, store their bytes and digests. Returns whether this call froze."""
    with transaction.atomic(durable=True):
        batch_settings()
        draw = locked_draw(window_id)
        window, now = draw.window, clock.now()
        if draw.state != DrawState.ANNOUNCED:
            return False
        if window.state != WindowState.CLOSED or window.freeze_at > now:
            raise Conflict(
                "not_due", _("The window is not closed or its freeze time has not come.")
            )
        # Before the entries are read: the window's row lock orders the freeze after a
        # duplicate review in progress and refuses later ones (booking.duplicates).
        booking_services.mark_window_frozen(window_id=window.pk, at=now)
        unreviewed = review_counts([window.pk])[window.pk]["unreviewed"]
        timer = PhaseTimer()
        entries_bytes, groups, updates = _frozen_entries(window, timer)
        slots = _frozen_slots(window)
        slots_bytes = canonical.slots_csv(slots)
        counts = _counts(groups, slots)
        frozen = {
            "state": DrawState.FROZEN,
            "frozen_at": now,
            "entries_digest": crypto.file_digest(entries_bytes).hex(),
            "slots_digest": crypto.file_digest(slots_bytes).hex(),
            "checks": duplicate_flags_check(unreviewed),
        }
        claimed = Draw.objects.filter(pk=draw.pk, state=DrawState.ANNOUNCED).update(
            **frozen, counts=counts
        )
        if not claimed:
            return False
        timer.lap("slots")

        def store(cursor):
            _write_back(cursor, window.pk, updates)
            blobs.write(draw, cursor=cursor, entries_csv=entries_bytes, slots_csv=slots_bytes)

        # The database stores while the bytes are checked by the engine's own strict parser
        # (so they are canonical, or the freeze fails and everything rolls back).
        with in_background(store, name="freeze-store"):
            canonical.parse_entries(entries_bytes, name="entries.csv (as written)")
            timer.lap("parse check")
        timer.lap("write-backs and store")
        for name, value in frozen.items():
            setattr(draw, name, value)
        audit_draw(
            "draw.frozen",
            draw,
            actor,
            entries_digest=frozen["entries_digest"],
            slots_digest=frozen["slots_digest"],
            entries=counts["entries"],
            slots=counts["slots"],
            duplicates_unreviewed=unreviewed,
        )
    timer.lap("commit")
    logger.info("freeze of window %s (%s)", window_id, timer)
    return True


def entry_rules(window: Window) -> dict:
    """The published tier and weight rules of a window (also in announcement.json)."""
    return {
        "tier": f"0 if urgency was approved by a supervisor or the permit expires on or before "
        f"the close date + {window.urgency_days} days (Europe/Paris); 1 otherwise",
        "weight": "1 + min(3, n), n = consecutive earlier draws of the same procedure entered "
        "without receiving any offer (an offer declined, lapsed or not attended resets n)",
        # Stated only when on: the announcements of windows without it keep their bytes.
        **({"absence": ABSENCE_RULE} if window.absence_lowers_weight else {}),
    }


ABSENCE_DAYS = 365
ABSENCE_RULE = (
    f"weight 1 if the person was recorded absent at a confirmed appointment on or after the "
    f"close date - {ABSENCE_DAYS} days, up to the freeze"
)


def _recently_absent(window: Window) -> set[int]:
    """Pks of the window's registered entries whose person was recorded absent since
    ABSENCE_DAYS before the close (lottery.absences), when the window's rule says so."""
    if not window.absence_lowers_weight:
        return set()
    since = window.closes_at - timedelta(days=ABSENCE_DAYS)
    entries = Entry.objects.filter(
        window=window, status=EntryStatus.REGISTERED, person__last_absence_at__gte=since
    )
    return set(entries.values_list("pk", flat=True))


def _frozen_entries(window: Window, timer: PhaseTimer) -> tuple[bytes, Counter, dict]:
    """The canonical entries.csv bytes of the registered entries, with their tier and weight,
    the count of entries per (procedure, tier, weight), and the tiers and weights that differ
    from the rows, for `_write_back` (the rows then say what the published file says).

    A million rows: one raw query in entry_id byte order, each line built as the entry_id plus
    a cached tail (tier, weight, procedure, sites, weekdays); `freeze_draw` then re-parses the
    bytes with the engine's own strict parser, so they are canonical or the freeze fails."""
    urgent_until = window.closes_at.astimezone(PARIS).date() + timedelta(days=window.urgency_days)
    codes = dict(Procedure.objects.values_list("pk", "code"))
    sites = _entry_sites(window)
    absent = _recently_absent(window)
    lines, updates, groups, tails = [canonical.ENTRIES_HEADER], {}, Counter(), {}
    append = lines.append
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The EXISTS subplan inflates the estimated cost past jit_above_cost, and compiling
            # the plan took longer (about 1 s) than running it. SET LOCAL: this transaction.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(*_entries_query(window))
        while chunk := cursor.fetchmany(20_000):
            for pk, entry_id, proc_id, days, expires, urgent, *prev, old_tier, old_weight in chunk:
                tier = 0 if urgent or (expires is not None and expires <= urgent_until) else 1
                weight = 1 if prev[0] is None or pk in absent else _weight(proc_id, *prev)
                if tier != old_tier or weight != old_weight:
                    updates.setdefault((tier, weight), []).append(pk)
                procedure = codes[proc_id]
                key = (procedure, tier, weight, sites.get(pk, ""), days)
                tail = tails.get(key)
                if tail is None:
                    tail = tails[key] = _entry_tail(*key)
                groups[procedure, tier, weight] += 1
                append(entry_id + tail)
    data = ("\n".join(lines) + "\n").encode("ascii")
    timer.lap("query and lines")
    return data, groups, updates


# Names the window whose freeze is writing its tiers and weights back, during these statements
# only: the PostgreSQL trigger that keeps a frozen draw's entry inputs unchanged (lottery
# migration 0005) then lets these two columns change without a draw lookup per row (a lookup
# for each of a million carried entries would add seconds to the freeze).
FREEZING_SETTING = "fairslot.freezing_window"


def _write_back(cursor, window_id: int, updates: dict[tuple[int, int], list[int]]) -> None:
    """Tiers and weights that differ from the rows, written back ((tier, weight) -> pks)."""
    marked = bool(updates) and connection.vendor == "postgresql"
    if marked:
        cursor.execute("SELECT set_config(%s, %s, true)", [FREEZING_SETTING, str(window_id)])
    for (tier, weight), pks in updates.items():
        for start in range(0, len(pks), 5000):
            chunk = pks[start : start + 5000]
            cursor.execute(
                f"UPDATE {Entry._meta.db_table} SET tier = %s, weight = %s "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                [tier, weight, *chunk],
            )
    if marked:
        # Cleared at once, not at the commit: nothing else in the transaction is exempted.
        cursor.execute("SELECT set_config(%s, '', true)", [FREEZING_SETTING])


def _entries_query(window: Window) -> tuple[str, list]:
    """Registered entries in entry_id byte order (COLLATE "C" on PostgreSQL, whose default
    collation is not byte order; SQLite compares bytes), with what the weight rule needs of
    the entry each was carried from."""
    entry, appointment = Entry._meta.db_table, Appointment._meta.db_table
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    sql = f"""
        SELECT e.id, e.entry_id, e.procedure_id, e.excluded_weekdays, e.permit_expires_on,
               e.urgent_approved, prev.procedure_id, prev.status, prev.weight,
               EXISTS (SELECT 1 FROM {appointment} a WHERE a.entry_id = e.carried_from_id),
               e.tier, e.weight
        FROM {entry} e LEFT JOIN {entry} prev ON prev.id = e.carried_from_id
        WHERE e.window_id = %s AND e.status = %s
        ORDER BY e.entry_id{collate}
    """  # noqa: S608 (table names from the models, values as parameters)
    return sql, [window.pk, EntryStatus.REGISTERED]


def _entry_sites(window: Window) -> dict[int, str]:
    """Each entry's sites as the entries.csv field: codes in byte order, joined by |."""
    sites: dict[int, list[str]] = {}
    through = Entry.sites.through.objects.filter(entry__window=window)
    for entry_pk, site_code in through.values_list("entry_id", "site__code"):
        sites.setdefault(entry_pk, []).append(site_code)
    return {pk: "|".join(sorted(set(codes))) for pk, codes in sites.items()}


def _entry_tail(procedure: str, tier: int, weight: int, sites: str, days: str) -> str:
    """Everything after the entry_id on an entries.csv line (weekdays canonicalised)."""
    days = "".join(str(day) for day in sorted({int(d) for d in days}))
    return f",{tier},{weight},{procedure},{sites},{days}"


def _weight(procedure_id, prev_procedure_id, prev_status, prev_weight, prev_offered) -> int:
    """1 + min(3, n). The previous entry's own n was its weight - 1, so if it ended without
    any offer n is now min(3, its weight): one join, no walk down the carried_from chain."""
    carried = (
        prev_procedure_id == procedure_id and prev_status in CARRY_STATUSES and not prev_offered
    )
    return 1 + min(MAX_CARRY_BONUS, prev_weight) if carried else 1


# A previous entry "got no slot" if it ended on the waiting list or was carried on.
CARRY_STATUSES = [EntryStatus.CARRIED, EntryStatus.WAITING]


def _frozen_slots(window: Window) -> list[canonical.Slot]:
    slots = []
    for code, site, procedure, starts_at in Slot.objects.filter(window=window).values_list(
        "code", "site__code", "procedure__code", "starts_at"
    ):
        local = starts_at.astimezone(PARIS)
        slots.append(canonical.Slot(code, site, procedure, local.date(), local.time()))
    return slots


def _counts(groups: Counter, slots: list[canonical.Slot]) -> dict:
    """Counts published at the freeze: entries by procedure, tier and weight; slots."""
    rows = [
        {"procedure": p, "tier": t, "weight": w, "entries": n}
        for (p, t, w), n in sorted(groups.items())
    ]
    per_procedure = Counter(slot.procedure for slot in slots)
    return {
        "entries": sum(groups.values()),
        "slots": len(slots),
        "groups": rows,
        "slots_by_procedure": dict(sorted(per_procedure.items())),
    }


# --- T5 review and publication -----------------------------------------------------------------


def review_draw(*, window_id: int, actor, approve: bool, note: str) -> None:
    """A supervisor reviews a draw held by failed checks; approval lets it be published."""
    with transaction.atomic(durable=True):
        draw = locked_draw(window_id)
        if actor.role != Role.SUPERVISOR or actor.prefecture_id != draw.window.prefecture_id:
            raise DomainError(
                "forbidden", _("Only a supervisor of this prefecture can do this."), http_status=403
            )
        if draw.state != DrawState.HELD:
            raise Conflict("not_held", _("This draw is not waiting for a review."))
        Draw.objects.filter(pk=draw.pk, state=DrawState.HELD).update(
            state=DrawState.DRAWN if approve else DrawState.HELD,
            reviewed_by=actor,
            reviewed_at=clock.now(),
            review_note=note,
        )
        audit_draw("draw.reviewed", draw, actor, approved=approve)


def publish_draw(*, window_id: int, actor=None) -> bool:
    """Drawn → published, with the window; then the outcome messages go to the outbox
    (`notify_outcomes`, in batches after the publication commits). Returns whether this call
    published."""
    with transaction.atomic(durable=True):
        draw, now = locked_draw(window_id), clock.now()
        changed = Draw.objects.filter(pk=draw.pk, state=DrawState.DRAWN).update(
            state=DrawState.PUBLISHED, published_at=now
        )
        if not changed:
            return False
        # The time to answer an offer runs from the moment people are told, not from the draw
        # (a held draw may wait days for its review; lapses wait for publication too).
        Appointment.objects.filter(
            slot__window_id=window_id, state=AppointmentState.OFFERED
        ).update(respond_by=now + timedelta(hours=draw.window.offer_hours))
        audit_draw("draw.published", draw, actor, results_digest=draw.results_digest)
        booking_services.mark_window_published(window_id=window_id, at=now, actor=actor)
    notify_outcomes(window_id=window_id)
    return True


def notify_outcomes(*, window_id: int, time_budget: float | None = None) -> int:
    """Write the outcome messages of a published draw to the outbox: one transaction per batch
    of entries, the draw recording the last entry done, so that a million messages neither sit
    in one transaction nor hold the tick, and a crash resumes where it stopped (a message
    already written is skipped by its dedup key). Only a published draw notifies: a held
    draw's results must reach nobody before its review. Stops starting batches after
    `time_budget` seconds (default NOTIFY_BUDGET_SECONDS; the tick goes on). Returns how many
    messages were written."""
    budget = NOTIFY_BUDGET_SECONDS if time_budget is None else time_budget
    started, written = time.monotonic(), 0
    while time.monotonic() - started < budget:
        with transaction.atomic(durable=True):
            draw = locked_draw(window_id)
            if draw.state != DrawState.PUBLISHED or draw.notified_at is not None:
                break
            count, last = notifications.outcome_batch(draw, after=draw.notified_through or 0)
            written += count
            done = {"notified_through": last or draw.notified_through}
            if last is None:
                done["notified_at"] = clock.now()
                audit_draw("draw.notified", draw, messages=draw.notified_messages + count)
            Draw.objects.filter(pk=draw.pk).update(
                notified_messages=F("notified_messages") + count, **done
            )
            if last is None:
                break
    return written
