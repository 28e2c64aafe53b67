"""The draw run (FAIRDRAW-1 T5): seed, engine, results, ranks and offered appointments, all in
one transaction, once per window.

Guard: the draw row is locked (`select_for_update`) and its state moved frozen -> drawn/held by
a conditional UPDATE. A second delivery of the task, or a second worker, waits for the lock,
then finds the state changed and records one "draw.skipped" audit row. A worker killed in the
middle leaves an open transaction that PostgreSQL rolls back: nothing is half-written, and the
retried run computes the same bytes from the same frozen inputs.
"""

import logging
from datetime import timedelta
from operator import itemgetter

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, Entry, Slot
from booking.services import mark_window_drawn
from config.errors import Conflict
from lottery import beacon, blobs, clock, results_pages
from lottery.background import in_background
from lottery.checks import run_checks, with_freeze_checks
from lottery.fairdraw import canonical, crypto, engine
from lottery.fairdraw.engine import ResultColumns
from lottery.models import BeaconSource, Draw, DrawState
from lottery.services import PhaseTimer, audit_draw, batch_settings
from lottery.services_reveal import beacon_ready

logger = logging.getLogger(__name__)


def counted_secrets(draw: Draw) -> dict[str, bytes]:
    """r_i per announced party: the secret if validly revealed in time, else b"" (section 4)."""
    deadline = draw.window.reveal_deadline
    counted = {}
    for party in draw.parties.all():
        secret = bytes.fromhex(party.secret) if party.secret else b""
        valid = (
            party.revealed_at is not None
            and draw.frozen_at <= party.revealed_at <= deadline
            and crypto.reveal_matches(
                draw.window.code, party.party_id, secret, bytes.fromhex(party.commitment)
            )
        )
        counted[party.party_id] = secret if valid else b""
    return counted


def compute_draw_seed(draw: Draw) -> bytes:
    beacon_args = {}
    if draw.beacon_source in (BeaconSource.RELAY, BeaconSource.PASTE):
        beacon_args = {
            "chain_hash": bytes.fromhex(beacon.CHAIN_HASH),
            "beacon_round": draw.beacon_round,
            "beacon_randomness": bytes.fromhex(draw.beacon_randomness),
        }
    return crypto.compute_seed(
        draw_id=draw.window.code,
        entries_digest=bytes.fromhex(draw.entries_digest),
        slots_digest=bytes.fromhex(draw.slots_digest),
        secrets=counted_secrets(draw),
        **beacon_args,
    )


def draw_is_due(draw: Draw) -> bool:
    return (
        draw.state == DrawState.FROZEN
        and clock.now() > draw.window.reveal_deadline
        and beacon_ready(draw)
    )


def run_draw(*, window_id: int, actor=None) -> str:
    """Run the window's draw if it is due. Returns "drawn", "held" (checks failed: publication
    waits for a supervisor's review) or "skipped" (already run: one audit row says so)."""
    with transaction.atomic(durable=True):
        batch_settings()
        # skip_locked: a second run does not queue behind the first (and fail on the 3 s
        # lock_timeout); it finds the row taken and records itself as skipped.
        draw = (
            Draw.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("window")
            .filter(window_id=window_id)
            .first()
        )
        if draw is None:
            return _skip_running(window_id, actor)
        if draw.state != DrawState.FROZEN:
            audit_draw("draw.skipped", draw, actor, state=draw.state)
            return "skipped"
        if not draw_is_due(draw):
            raise Conflict("draw_not_due", _("The reveals or the beacon are not in yet."))
        entries_bytes, slots_bytes = blobs.read(draw, "entries_csv", "slots_csv")
        if (
            crypto.file_digest(entries_bytes).hex() != draw.entries_digest
            or crypto.file_digest(slots_bytes).hex() != draw.slots_digest
        ):
            raise Conflict(
                "frozen_files_altered", _("The frozen files do not match their digests.")
            )
        timer = PhaseTimer()
        seed = compute_draw_seed(draw)
        drawn = engine.draw(
            canonical.parse_entries(entries_bytes), canonical.parse_slots(slots_bytes), seed
        )
        columns = drawn.columns()  # no row object per entry: read by the checks and the writes
        timer.lap("engine")
        positions, pks = _registered(window_id)
        now = clock.now()
        # The database writes the outcomes while this process builds results.csv and runs the
        # checks: PostgreSQL on one core, Python on the other.
        outcomes = _Outcomes(draw, columns, pks, now)
        outcomes.load()
        with in_background(outcomes.apply, name="draw-outcomes"):
            results = drawn.csv()
            checks = with_freeze_checks(run_checks(columns, positions), draw.checks)
            index = results_pages.page_index(results)
            counts = _with_given(draw.counts, drawn.given_by_group())
            timer.lap("results.csv, checks and page index")
        timer.lap(f"outcomes written ({outcomes.timer})")
        state = DrawState.DRAWN if checks["passed"] else DrawState.HELD
        results_digest = crypto.file_digest(results).hex()
        Draw.objects.filter(pk=draw.pk, state=DrawState.FROZEN).update(
            state=state,
            drawn_at=now,
            seed=seed.hex(),
            ticket_key=crypto.ticket_key(seed).hex(),
            results_digest=results_digest,
            results_index=index,
            counts=counts,
            checks=checks,
            checks_passed=checks["passed"],
        )
        blobs.write(draw, results_csv=results)
        timer.lap("draw row")
        mark_window_drawn(window_id=window_id, actor=actor)
        audit_draw(
            "draw.run",
            draw,
            actor,
            seed=seed.hex(),
            results_digest=results_digest,
            checks_passed=checks["passed"],
            offered=drawn.slots_given,
        )
    timer.lap("commit")
    logger.info("draw of window %s: %s (%s)", window_id, state, timer)
    return "drawn" if state == DrawState.DRAWN else "held"


def _with_given(counts: dict, given) -> dict:
    """The freeze's counts with, for each (procedure, tier, weight) group, how many of its
    entries the draw gave a slot (published statistics)."""
    groups = [
        {**group, "given": given.get((group["procedure"], group["tier"], group["weight"]), 0)}
        for group in counts.get("groups", [])
    ]
    return {**counts, "groups": groups, "given": sum(given.values())}


def _skip_running(window_id: int, actor) -> str:
    draw = Draw.objects.select_related("window").filter(window_id=window_id).first()
    if draw is None:
        raise Conflict("draw_not_announced", _("This window has no announced draw."))
    audit_draw("draw.skipped", draw, actor, state="running")
    return "skipped"


def _registered(window_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """The window's entries in one query: entry_id -> 0-based registration position (for the
    checks) and entry_id -> primary key (for the writes)."""
    found = list(
        Entry.objects.filter(window_id=window_id)
        .order_by("created_at", "id")
        .values_list("entry_id", "id")
    )
    return {entry_id: i for i, (entry_id, _) in enumerate(found)}, dict(found)


# The load is sorted by primary key and the join must keep that order, so that the UPDATE walks
# booking_entry's heap sequentially: a hash join spilled to disk in batches would scramble it
# (in rank order, i.e. at random, the UPDATE of a million rows took 70 s instead of about 30).
# Hence the draw's work_mem (services.BATCH_WORK_MEM, set for its transaction).
LOAD_COPY = "COPY lottery_result_load (id, rank, slot_code) FROM STDIN"


class _Outcomes:
    """Ranks and statuses on entries, offered appointments for assigned slots: `load` puts them
    in a temporary table (COPY on PostgreSQL) in primary-key order, `apply` writes them with two
    set-based statements. Every entry of the window's draw changes (registered -> selected or
    waiting). `apply` takes a cursor so that it can run in the background (lottery.background)."""

    def __init__(self, draw: Draw, columns: ResultColumns, pks: dict[str, int], now):
        self.timer = PhaseTimer()
        self.window_id, self.now = draw.window_id, now
        self.respond_by = now + timedelta(hours=draw.window.offer_hours)
        ranks = range(1, len(columns.entry_id) + 1)
        self.load_rows = sorted(
            zip(map(pks.__getitem__, columns.entry_id), ranks, columns.slot_id, strict=True),
            key=itemgetter(0),
        )

    def load(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS lottery_result_load")
            cursor.execute(
                "CREATE TEMPORARY TABLE lottery_result_load "
                "(id bigint NOT NULL, rank integer NOT NULL, slot_code varchar(32))"
            )
            if connection.vendor == "postgresql":
                # COPY in text format, sent as one buffer (a write_row call per row: seconds).
                text = "".join(
                    f"{pk}\t{rank}\t{'\\N' if code is None else code}\n"
                    for pk, rank, code in self.load_rows
                )
                with cursor.cursor.copy(LOAD_COPY) as copy:
                    copy.write(text.encode("ascii"))
                cursor.execute("ANALYZE lottery_result_load")  # a hash join, not 1M probes
            else:
                cursor.executemany(
                    "INSERT INTO lottery_result_load VALUES (%s, %s, %s)", self.load_rows
                )
        self.timer.lap("load")

    def apply(self, cursor) -> None:
        entry_table, slot_table = Entry._meta.db_table, Slot._meta.db_table
        if connection.vendor == "postgresql":
            # Foreign keys are checked at commit by default (Django makes them DEFERRABLE
            # INITIALLY DEFERRED): 100,000 appointments mean 200,000 checks, about 3 s. Checked
            # at the end of the INSERT instead, they run here, beside the caller's work.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"UPDATE {entry_table} SET rank = r.rank, status = CASE WHEN r.slot_code IS NULL "  # noqa: S608
            "THEN 'waiting' ELSE 'selected' END FROM lottery_result_load r "
            f"WHERE {entry_table}.id = r.id AND {entry_table}.window_id = %s",
            [self.window_id],
        )
        self.timer.lap("entries")
        cursor.execute(
            f"INSERT INTO {Appointment._meta.db_table} "  # noqa: S608
            "(entry_id, slot_id, state, offered_at, respond_by) "
            f"SELECT r.id, s.id, 'offered', %s, %s FROM lottery_result_load r "
            f"JOIN {slot_table} s ON s.code = r.slot_code AND s.window_id = %s "
            "WHERE r.slot_code IS NOT NULL ORDER BY s.id",
            [_db(self.now), _db(self.respond_by), self.window_id],
        )
        cursor.execute("DROP TABLE lottery_result_load")
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        self.timer.lap("appointments")


def _db(moment):
    return connection.ops.adapt_datetimefield_value(moment)
