"""The draw run (FAIRDRAW-1 T5): seed, engine, results, ranks and offered appointments, all in
one transaction, once per window.

Guard: the draw row is locked (`select_for_update`) and its state moved frozen -> drawn/held by
a conditional UPDATE. A second delivery of the task, or a second worker, waits for the lock,
then finds the state changed and records one "draw.skipped" audit row. A worker killed in the
middle leaves an open transaction that PostgreSQL rolls back: nothing is half-written, and the
retried run computes the same bytes from the same frozen inputs.
"""

import logging
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, Entry, Slot
from booking.services import mark_window_drawn
from config.errors import Conflict
from lottery import beacon, clock
from lottery.checks import run_checks
from lottery.fairdraw import canonical, crypto, engine
from lottery.models import BeaconSource, Draw, DrawState
from lottery.services import _audit, batch_statement_timeout, beacon_ready

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
        batch_statement_timeout()
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
            _audit("draw.skipped", draw, actor, state=draw.state)
            return "skipped"
        if not draw_is_due(draw):
            raise Conflict("draw_not_due", _("The reveals or the beacon are not in yet."))
        entries_bytes, slots_bytes = bytes(draw.entries_csv), bytes(draw.slots_csv)
        if (
            crypto.file_digest(entries_bytes).hex() != draw.entries_digest
            or crypto.file_digest(slots_bytes).hex() != draw.slots_digest
        ):
            raise Conflict(
                "frozen_files_altered", _("The frozen files do not match their digests.")
            )
        timer = _Timer()
        seed = compute_draw_seed(draw)
        rows = engine.draw(
            canonical.parse_entries(entries_bytes), canonical.parse_slots(slots_bytes), seed
        )
        results = canonical.results_csv(rows)
        timer.lap("engine")
        checks = run_checks(rows, _registration_positions(window_id))
        timer.lap("checks")
        state = DrawState.DRAWN if checks["passed"] else DrawState.HELD
        now = clock.now()
        Draw.objects.filter(pk=draw.pk, state=DrawState.FROZEN).update(
            state=state,
            drawn_at=now,
            seed=seed.hex(),
            ticket_key=crypto.ticket_key(seed).hex(),
            results_csv=results,
            results_digest=crypto.file_digest(results).hex(),
            checks=checks,
            checks_passed=checks["passed"],
        )
        _write_outcomes(draw, rows, now)
        timer.lap("write")
        mark_window_drawn(window_id=window_id, actor=actor)
        _audit(
            "draw.run",
            draw,
            actor,
            seed=seed.hex(),
            results_digest=crypto.file_digest(results).hex(),
            checks_passed=checks["passed"],
            offered=sum(row.slot_id is not None for row in rows),
        )
    logger.info("draw of window %s: %s (%s)", window_id, state, timer)
    return "drawn" if state == DrawState.DRAWN else "held"


class _Timer:
    """Phase durations for the log: a draw's cost is worth seeing in production too."""

    def __init__(self):
        self.start, self.laps = time.perf_counter(), []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{name} {now - self.start:.1f} s")
        self.start = now

    def __str__(self) -> str:
        return ", ".join(self.laps)


def _skip_running(window_id: int, actor) -> str:
    draw = Draw.objects.select_related("window").filter(window_id=window_id).first()
    if draw is None:
        raise Conflict("draw_not_announced", _("This window has no announced draw."))
    _audit("draw.skipped", draw, actor, state="running")
    return "skipped"


def _registration_positions(window_id: int) -> dict[str, int]:
    ids = Entry.objects.filter(window_id=window_id).order_by("created_at", "pk")
    return {entry_id: i for i, entry_id in enumerate(ids.values_list("entry_id", flat=True))}


def _write_outcomes(draw: Draw, rows, now) -> None:
    """Ranks and statuses on entries, offered appointments for assigned slots: loaded into a
    temporary table (COPY on PostgreSQL) and applied with two set-based statements."""
    entry_table, slot_table = Entry._meta.db_table, Slot._meta.db_table
    appointment_table = Appointment._meta.db_table
    respond_by = now + timedelta(hours=draw.window.offer_hours)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS lottery_result_load")
        cursor.execute(
            "CREATE TEMPORARY TABLE lottery_result_load "
            "(entry_id varchar(32) PRIMARY KEY, rank integer NOT NULL, slot_code varchar(32))"
        )
        data = ((row.entry_id, row.rank, row.slot_id) for row in rows)
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                "COPY lottery_result_load (entry_id, rank, slot_code) FROM STDIN"
            ) as copy:
                for item in data:
                    copy.write_row(item)
            cursor.execute("ANALYZE lottery_result_load")  # a hash join, not 1M index probes
        else:
            cursor.executemany("INSERT INTO lottery_result_load VALUES (%s, %s, %s)", list(data))
        cursor.execute(
            f"UPDATE {entry_table} SET rank = r.rank, status = CASE WHEN r.slot_code IS NULL "  # noqa: S608
            "THEN 'waiting' ELSE 'selected' END FROM lottery_result_load r "
            f"WHERE {entry_table}.entry_id = r.entry_id AND {entry_table}.window_id = %s",
            [draw.window_id],
        )
        cursor.execute(
            f"INSERT INTO {appointment_table} (entry_id, slot_id, state, offered_at, respond_by) "  # noqa: S608
            f"SELECT e.id, s.id, 'offered', %s, %s FROM lottery_result_load r "
            f"JOIN {entry_table} e ON e.entry_id = r.entry_id AND e.window_id = %s "
            f"JOIN {slot_table} s ON s.code = r.slot_code AND s.window_id = %s "
            "WHERE r.slot_code IS NOT NULL",
            [_db(now), _db(respond_by), draw.window_id, draw.window_id],
        )
        cursor.execute("DROP TABLE lottery_result_load")


def _db(moment):
    return connection.ops.adapt_datetimefield_value(moment)
