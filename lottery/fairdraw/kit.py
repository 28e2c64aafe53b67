"""The replay kit (FAIRDRAW-1 sections 11 and 13): draw from a kit, replay a kit, build a kit.

``replay_files`` and ``draw_files`` are pure functions of the kit's bytes ({file name: bytes});
``read_kit``, ``write_kit`` and ``replay_kit`` are the thin file-system layer around them.
"""

import io
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .beacon import QUICKNET_CHAIN_HASH, verify_beacon
from .canonical import Entry, ResultRow, Slot, parse_entries, parse_results, parse_slots
from .crypto import compute_seed, file_digest, ticket_key
from .engine import Results, draw
from .errors import FairdrawError
from .events import Event, check_offers, log_head, parse_events
from .kitfiles import (
    Announcement,
    Freeze,
    Reveal,
    Verdict,
    expected_beacon_round,
    json_bytes,
    judge_reveal,
    parse_announcement,
    parse_beacon,
    parse_freeze,
    parse_reveals,
)
from .times import format_utc

ANNOUNCEMENT = "announcement.json"
ENTRIES = "entries.csv"
SLOTS = "slots.csv"
FREEZE = "freeze.json"
REVEALS = "reveals.json"
BEACON = "beacon.json"
RESULTS = "results.csv"
EVENTS = "events.log"
SIGNATURE_NOT_CHECKED = "BLS signature NOT checked"
MAX_FILE_SIZE = 2**31  # a million-entry results.csv is about 120 MB
KIT_FILES = (ANNOUNCEMENT, ENTRIES, SLOTS, FREEZE, REVEALS, BEACON, RESULTS, EVENTS)


class Check(NamedTuple):
    """One line of the replay report."""

    name: str
    ok: bool
    message: str

    @property
    def text(self) -> str:
        """``name: message``, without repeating a file name that the message starts with."""
        if self.message.startswith((f"{self.name}:", f"{self.name} line")):
            return self.message
        return f"{self.name}: {self.message}"

    def __str__(self) -> str:
        return f"{'OK' if self.ok else 'FAIL':<5}{self.text}"


@dataclass
class _State:
    """What the checks have established so far; None means "not (successfully) read"."""

    files: Mapping[str, bytes]
    check_signature: bool = True  # False: the beacon's BLS signature is not checked (see _beacon)
    announcement: Announcement | None = None
    entries: list[Entry] | None = None
    slots: list[Slot] | None = None
    freeze: Freeze | None = None
    digests_match: bool | None = None
    reveals: dict[str, Reveal] | None = None
    verdicts: list[Verdict] | None = None
    beacon: tuple[bytes, int, bytes] | None = None  # chain_hash, round, randomness
    seed: bytes | None = None
    results: Results | None = None
    published: Sequence[ResultRow] | None = None
    events: list[Event] | None = None
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class DrawOutput:
    """What ``draw_files`` computed: results.csv bytes and the values to publish with it."""

    results_csv: bytes
    seed: bytes
    ticket_key: bytes
    verdicts: list[Verdict]
    checks: list[Check]

    @property
    def results_digest(self) -> bytes:
        return file_digest(self.results_csv)


# The checks ----------------------------------------------------------------------------------


def _check(state: _State, name: str, needs: tuple[str, ...], action: Callable[[], str]) -> Check:
    missing = [need for need in needs if getattr(state, need) is None]
    if missing:
        check = Check(name, False, f"not checked: needs {', '.join(missing)} (see above)")
    else:
        try:
            check = Check(name, True, action())
        except FairdrawError as error:
            check = Check(name, False, str(error))
    state.checks.append(check)
    return check


def _file(state: _State, name: str) -> bytes:
    data = state.files.get(name)
    if data is None:
        raise FairdrawError(f"{name} is missing from the kit")
    return data


def _read_announcement(state: _State) -> str:
    announcement = state.announcement = parse_announcement(_file(state, ANNOUNCEMENT))
    parties = ", ".join(announcement.commitments)
    beacon = (
        f"beacon quicknet round {announcement.beacon_round}"
        if announcement.beacon_round is not None
        else "no beacon"
    )
    return f"draw {announcement.draw_id}, parties {parties}, {beacon}"


def _read_entries(state: _State) -> str:
    state.entries = parse_entries(_file(state, ENTRIES))
    return f"{len(state.entries)} entries, well-formed, sorted by entry_id"


def _read_slots(state: _State) -> str:
    state.slots = parse_slots(_file(state, SLOTS))
    return f"{len(state.slots)} slots, well-formed, in canonical order"


def _read_freeze(state: _State) -> str:
    state.freeze = parse_freeze(_file(state, FREEZE))
    return f"published at {format_utc(state.freeze.published_at)}"


def _digest(state: _State, name: str, expected: bytes) -> str:
    actual = file_digest(_file(state, name))
    if actual != expected:
        state.digests_match = False
        raise FairdrawError(f"H({name}) = {actual.hex()}, but freeze.json says {expected.hex()}")
    if state.digests_match is None:
        state.digests_match = True
    return f"{actual.hex()} matches freeze.json"


def _freeze_timing(state: _State) -> str:
    announcement, freeze = state.announcement, state.freeze
    at = format_utc(freeze.published_at)
    if not announcement.registration_closes <= freeze.published_at:
        raise FairdrawError(f"freeze published at {at}, before registration closed")
    if not freeze.published_at <= announcement.reveal_deadline:
        raise FairdrawError(f"freeze published at {at}, after the reveal deadline")
    return f"published at {at}: after registration closed, before the reveal deadline"


def _read_reveals(state: _State) -> str:
    parties = list(state.announcement.commitments)
    state.reveals = parse_reveals(_file(state, REVEALS), parties)
    return f"one record per announced party ({len(parties)})"


def _judge(state: _State, party_id: str) -> Verdict:
    announcement = state.announcement
    return judge_reveal(
        draw_id=announcement.draw_id,
        party_id=party_id,
        commitment=announcement.commitments[party_id],
        reveal=state.reveals[party_id],
        freeze_published_at=state.freeze.published_at,
        reveal_deadline=announcement.reveal_deadline,
    )


def _reveal_checks(state: _State) -> Iterator[Check]:
    needs = ("announcement", "freeze", "reveals")
    if any(getattr(state, need) is None for need in needs):
        yield _check(state, "reveals", needs, lambda: "")
        return
    verdicts = [_judge(state, party_id) for party_id in state.announcement.commitments]
    for verdict in verdicts:
        yield _check(state, f"reveal {verdict.party_id}", (), lambda v=verdict: v.reason)
    state.verdicts = verdicts
    absent = [verdict.party_id for verdict in verdicts if not verdict.counted]
    listed = ", ".join(absent) if absent else "none"
    yield _check(state, "non-revealers", (), lambda: f"{listed} (counted as empty in the seed)")


def _beacon_round(state: _State) -> str:
    announcement = state.announcement
    if announcement.beacon_round is None:
        state.beacon = (b"", 0, b"")
        return (
            "no beacon announced: chain_hash empty, R = 0, randomness empty "
            "(no-beacon mode: the last revealer could withhold to choose between two outcomes)"
        )
    expected = expected_beacon_round(announcement)
    if announcement.beacon_round != expected:
        raise FairdrawError(
            f"announced round {announcement.beacon_round}, but the first quicknet round at "
            f"least 3600 s after the reveal deadline is {expected}"
        )
    return f"round {expected} is the first quicknet round >= reveal deadline + 3600 s"


def _beacon(state: _State) -> str:
    beacon_round = state.announcement.beacon_round
    record = parse_beacon(_file(state, BEACON))
    if record.round != beacon_round:
        raise FairdrawError(
            f"round {record.round}, but the announcement fixes round {beacon_round}"
        )
    if record.signature is None:
        state.beacon = (b"", 0, b"")
        return (
            f"FALLBACK claimed: round {beacon_round} said unobtainable for 7 days, seed uses an "
            "empty beacon. This cannot be checked offline: if any drand relay serves this "
            "round, the draw is invalid"
        )
    randomness = verify_beacon(
        record.round, record.signature, record.randomness, check_signature=state.check_signature
    )
    state.beacon = (QUICKNET_CHAIN_HASH, record.round, randomness)
    if not state.check_signature:
        return (
            f"round {record.round}: randomness {randomness.hex()} = H(sig); {SIGNATURE_NOT_CHECKED}"
        )
    return f"round {record.round}: BLS signature valid, randomness {randomness.hex()} = H(sig)"


def _seed(state: _State) -> str:
    chain_hash, beacon_round, randomness = state.beacon
    state.seed = compute_seed(
        draw_id=state.announcement.draw_id,
        entries_digest=state.freeze.entries_digest,
        slots_digest=state.freeze.slots_digest,
        secrets={verdict.party_id: verdict.secret for verdict in state.verdicts},
        chain_hash=chain_hash,
        beacon_round=beacon_round,
        beacon_randomness=randomness,
    )
    return f"seed {state.seed.hex()}, ticket key K {ticket_key(state.seed).hex()}"


def _draw(state: _State) -> str:
    if not state.digests_match:
        raise FairdrawError("not computed: entries.csv or slots.csv differs from freeze.json")
    state.results = draw(state.entries, state.slots, state.seed)
    return f"{len(state.results)} entries ranked, {state.results.slots_given} slots given"


def _compare_results(state: _State) -> str:
    published = _file(state, RESULTS)
    expected = state.results.csv()
    if published == expected:
        state.published = state.results  # rows are built only if events.log needs them
        return f"digest {file_digest(published).hex()}: identical to the recomputed draw"
    state.published = parse_results(published)  # a format error is the clearest message
    raise FairdrawError(
        f"differs from the recomputed draw: {_first_difference(expected, published)}"
    )


def _first_difference(expected: bytes, published: bytes) -> str:
    want, got = expected.split(b"\n"), published.split(b"\n")
    for number, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if a != b:
            return f"line {number} is {b.decode()!r}, expected {a.decode()!r}"
    return f"{len(got) - 2} rows, expected {len(want) - 2}"


def _events_chain(state: _State) -> str:
    data = _file(state, EVENTS)
    state.events = parse_events(data)
    return f"{len(state.events)} lines, hash chain intact, head {log_head(data) or '(empty)'}"


def _events_offers(state: _State) -> str:
    offers = check_offers(state.events, state.entries, state.slots, state.published)
    return f"{offers} offers, each to the best-ranked eligible entry; every event allowed"


def _steps(state: _State, *, replay: bool) -> Iterator[Check]:
    yield _check(state, ANNOUNCEMENT, (), lambda: _read_announcement(state))
    yield _check(state, ENTRIES, (), lambda: _read_entries(state))
    yield _check(state, SLOTS, (), lambda: _read_slots(state))
    yield _check(state, FREEZE, (), lambda: _read_freeze(state))
    freeze = state.freeze
    if freeze is None:
        state.digests_match = False
    else:
        yield _check(
            state, "entries digest", (), lambda: _digest(state, ENTRIES, freeze.entries_digest)
        )
        yield _check(state, "slots digest", (), lambda: _digest(state, SLOTS, freeze.slots_digest))
    yield _check(state, "freeze timing", ("announcement", "freeze"), lambda: _freeze_timing(state))
    yield _check(state, REVEALS, ("announcement",), lambda: _read_reveals(state))
    yield from _reveal_checks(state)
    yield _check(state, "beacon round", ("announcement",), lambda: _beacon_round(state))
    if state.announcement is not None and state.announcement.beacon_round is not None:
        yield _check(state, BEACON, ("announcement",), lambda: _beacon(state))
    needs = ("announcement", "freeze", "verdicts", "beacon")
    yield _check(state, "seed", needs, lambda: _seed(state))
    needs = ("entries", "slots", "seed", "digests_match")
    yield _check(state, "draw", needs, lambda: _draw(state))
    if not replay:
        return
    yield _check(state, RESULTS, ("results",), lambda: _compare_results(state))
    if EVENTS in state.files:
        yield _check(state, "events.log chain", (), lambda: _events_chain(state))
        needs = ("events", "entries", "slots", "published")
        yield _check(state, "events.log offers", needs, lambda: _events_offers(state))


# Public functions ----------------------------------------------------------------------------


def replay_files(files: Mapping[str, bytes], *, check_signature: bool = True) -> list[Check]:
    """Auditor steps (1) to (4) and (6) of section 11 on a kit; every check, in order.

    The kit holds if and only if every returned check is ok. A malformed or missing file
    shows up as a failed check with a message, never as an exception. With
    ``check_signature=False`` (no BLS library) the beacon check passes on H(signature) alone
    and its message contains ``SIGNATURE_NOT_CHECKED``: step (3) is then left to the reader.
    """
    state = _State(files, check_signature=check_signature)
    return list(_steps(state, replay=True))


def draw_files(files: Mapping[str, bytes]) -> DrawOutput:
    """Compute results.csv from a kit without results (section 13 ``draw``).

    Runs the same checks as the replay up to the draw; raises FairdrawError naming the first
    one that fails (a tampered file, an unverifiable beacon, a malformed file...).
    """
    state = _State(files)
    for check in _steps(state, replay=False):
        if not check.ok:
            raise FairdrawError(check.text)
    return DrawOutput(
        results_csv=state.results.csv(),
        seed=state.seed,
        ticket_key=ticket_key(state.seed),
        verdicts=state.verdicts,
        checks=state.checks,
    )


def build_kit(
    *,
    announcement: Mapping[str, Any],
    entries_csv: bytes,
    slots_csv: bytes,
    freeze: Mapping[str, Any],
    reveals: Mapping[str, Any],
    beacon: Mapping[str, Any] | None = None,
    results_csv: bytes | None = None,
    events_log: bytes | None = None,
) -> dict[str, bytes]:
    """The kit's files as {name: bytes}; results.csv is computed when not given.

    JSON values are written with ``json_bytes``. Pass ``beacon`` exactly as the drand relay
    returned it ({"round", "signature", "randomness"}) when the announcement names a beacon.
    """
    files = {
        ANNOUNCEMENT: json_bytes(announcement),
        ENTRIES: entries_csv,
        SLOTS: slots_csv,
        FREEZE: json_bytes(freeze),
        REVEALS: json_bytes(reveals),
    }
    if beacon is not None:
        files[BEACON] = json_bytes(beacon)
    files[RESULTS] = results_csv if results_csv is not None else draw_files(files).results_csv
    if events_log is not None:
        files[EVENTS] = events_log
    return files


def kit_zip(files: Mapping[str, bytes]) -> bytes:
    """A deterministic .zip of the kit (fixed timestamps, sorted names, one folder-less level)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def read_kit(path: str | Path) -> dict[str, bytes]:
    """The kit files found in a folder or a .zip (other files are ignored)."""
    path = Path(path)
    try:
        if path.is_dir():
            return {
                name: (path / name).read_bytes() for name in KIT_FILES if (path / name).is_file()
            }
        if path.is_file() and zipfile.is_zipfile(path):
            return _read_zip(path)
    except OSError as error:
        raise FairdrawError(f"{path}: cannot read the kit: {error.strerror or error}") from None
    if not path.exists():
        raise FairdrawError(f"{path}: no such folder")
    raise FairdrawError(f"{path}: not a folder or a .zip file")


def _read_zip(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.rsplit("/", 1)[-1]
                if info.is_dir() or name not in KIT_FILES:
                    continue
                if info.file_size > MAX_FILE_SIZE:
                    raise FairdrawError(f"{path}: {name} is larger than {MAX_FILE_SIZE} bytes")
                if name in files:
                    raise FairdrawError(f"{path}: {name} appears twice in the archive")
                files[name] = archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
        raise FairdrawError(f"{path}: unreadable .zip: {error}") from None
    return files


def write_kit(path: str | Path, files: Mapping[str, bytes]) -> None:
    """Write the kit's files into folder ``path`` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name not in KIT_FILES:
            raise FairdrawError(f"{name} is not a kit file")
        (path / name).write_bytes(data)


def replay_kit(path: str | Path, *, check_signature: bool = True) -> list[Check]:
    """``replay_files`` on a folder or .zip; an unreadable path is one failed check."""
    try:
        files = read_kit(path)
    except FairdrawError as error:
        return [Check("kit", False, str(error))]
    return replay_files(files, check_signature=check_signature)
