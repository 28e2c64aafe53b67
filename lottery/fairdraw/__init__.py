"""FAIRDRAW-1: the seeded, publicly replayable draw of Fairslot, in pure Python.

The normative text is FAIRDRAW.md; docs/draw-spec.md restates it with our choices on its
ambiguities. This package imports nothing from Django or the project, reads no clock, and does
no I/O except in the functions marked (I/O). Every error is a ``FairdrawError`` whose message
names the file and line. Command line: ``python -m lottery.fairdraw draw|replay DIR``.

Public API, in the order a draw uses it
---------------------------------------
T0 announcement (per party: ``secret = secrets.token_bytes(32)``, kept private until T3)::

    commitment(draw_id, party_id, secret) -> bytes                      # c_i, 32 bytes
    make_announcement(*, draw_id, commitments: {party_id: c_i}, registration_closes,
                      freeze, reveal_deadline, beacon=True, informative=None) -> dict
    beacon_round_for_deadline(unix_seconds) -> int                      # R
    round_for_time(unix_seconds) -> int;  round_time(round) -> int

T2 freeze (rows from the database; writers sort and validate)::

    Entry(entry_id, tier, weight, procedure, sites=(), excluded_weekdays=())
    Slot(slot_id, site, procedure, date "YYYY-MM-DD", start "HH:MM")
    entries_csv(entries) -> bytes;  slots_csv(slots) -> bytes;  file_digest(data) -> bytes
    make_freeze(*, entries_csv, slots_csv, published_at) -> dict

T3 reveals::

    reveal_matches(draw_id, party_id, secret, commitment) -> bool     # 32 bytes and recomputes c_i
    judge_reveal(*, draw_id, party_id, commitment, reveal: Reveal(secret_hex, revealed_at),
                 freeze_published_at, reveal_deadline) -> Verdict(party_id, secret, reason)
    make_reveals({party_id: (secret bytes or None, revealed_at or None)}) -> dict
    json_bytes(value) -> bytes               # how the kit writes every JSON file

T5 beacon and draw::

    verify_beacon(round, signature_hex, randomness_hex) -> randomness bytes   # or FairdrawError
    build_kit(*, announcement, entries_csv, slots_csv, freeze, reveals, beacon=None,
              results_csv=None, events_log=None) -> {file name: bytes}
    draw_files(files) -> DrawOutput(results_csv, seed, ticket_key, verdicts, checks)
    replay_files(files) -> list[Check(name, ok, message)]
    kit_zip(files) -> bytes;  write_kit(path, files) (I/O);  read_kit(path) (I/O);
    replay_kit(path) -> list[Check] (I/O)

  Lower level, for tests and other callers::

    compute_seed(*, draw_id, entries_digest, slots_digest, secrets: {party_id: r_i or b""},
                 chain_hash=b"", beacon_round=0, beacon_randomness=b"") -> bytes
    ticket_key(seed) -> bytes;  entry_keys(entries, K) -> list[bytes]
    draw(entries, slots, seed) -> Results   # a Sequence of ResultRow(rank, entry_id, tier,
                                            # weight, key bytes, slot_id or None); .csv() -> bytes
    parse_entries / parse_slots / parse_results(data) -> rows;  results_csv(rows) -> bytes

After the draw, re-offers (events.log)::

    Waitlist(entries, slots, results)        .best_candidate(slot_id) -> entry_id | None
                                             .apply(event, slot_id, entry_id)  # or FairdrawError
    next_event_line(log_bytes, utc_time, event, slot_id, entry_id) -> line (append line + "\\n")
    event_line(seq, utc_time, event, slot_id, entry_id, prev_hex) -> str;  line_hash(line) -> str
    parse_events(data) -> list[Event];  verify_events(data, entries, slots, results) -> summary
    log_head(data) -> str                    # the head hash to publish daily
"""

from .beacon import (
    QUICKNET_CHAIN_HASH,
    QUICKNET_PUBLIC_KEY,
    beacon_round_for_deadline,
    round_for_time,
    round_time,
    verify_beacon,
    verify_quicknet,
)
from .canonical import (
    Entry,
    ResultRow,
    Slot,
    entries_csv,
    parse_entries,
    parse_results,
    parse_slots,
    results_csv,
    slots_csv,
)
from .crypto import commitment, compute_seed, file_digest, reveal_matches, ticket_key
from .engine import Results, draw, entry_keys
from .errors import FairdrawError
from .events import (
    Event,
    Waitlist,
    event_line,
    line_hash,
    log_head,
    next_event_line,
    parse_events,
    verify_events,
)
from .kit import (
    Check,
    DrawOutput,
    build_kit,
    draw_files,
    kit_zip,
    read_kit,
    replay_files,
    replay_kit,
    write_kit,
)
from .kitfiles import (
    Reveal,
    Verdict,
    json_bytes,
    judge_reveal,
    make_announcement,
    make_freeze,
    make_reveals,
)

__all__ = [
    "QUICKNET_CHAIN_HASH",
    "QUICKNET_PUBLIC_KEY",
    "Check",
    "DrawOutput",
    "Entry",
    "Event",
    "FairdrawError",
    "ResultRow",
    "Results",
    "Reveal",
    "Slot",
    "Verdict",
    "Waitlist",
    "beacon_round_for_deadline",
    "build_kit",
    "commitment",
    "compute_seed",
    "draw",
    "draw_files",
    "entries_csv",
    "entry_keys",
    "event_line",
    "file_digest",
    "json_bytes",
    "judge_reveal",
    "kit_zip",
    "line_hash",
    "log_head",
    "make_announcement",
    "make_freeze",
    "make_reveals",
    "next_event_line",
    "parse_entries",
    "parse_events",
    "parse_results",
    "parse_slots",
    "read_kit",
    "replay_files",
    "replay_kit",
    "results_csv",
    "reveal_matches",
    "round_for_time",
    "round_time",
    "slots_csv",
    "ticket_key",
    "verify_beacon",
    "verify_events",
    "verify_quicknet",
    "write_kit",
]
