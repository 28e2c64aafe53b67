"""The replay refuses every kind of tampering, and malformed kits never crash it."""

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lottery.fairdraw as fairdraw
from lottery.fairdraw import next_event_line, replay_files

from .test_events import RANK1, RANK7, RANK8
from .vector import (
    ENTRIES_CSV,
    EXPECTED,
    FREEZE_AT,
    R_DDD,
    REVEAL_DEADLINE,
    SLOTS_CSV,
    relay_beacon,
    reveals,
    run_cli,
    vector_kit,
)

NEW_ID = b"ffff0000ffff0000ffff0000ffff0000"


def _failures(files: dict[str, bytes]) -> list[str]:
    return [check.text for check in replay_files(files) if not check.ok]


def _refrozen(entries: bytes = ENTRIES_CSV, slots: bytes = SLOTS_CSV) -> dict:
    """A kit whose freeze.json matches altered files (as if the operator re-froze them)."""
    freeze = fairdraw.make_freeze(entries_csv=entries, slots_csv=slots, published_at=FREEZE_AT)
    return {"entries.csv": entries, "slots.csv": slots, "freeze.json": fairdraw.json_bytes(freeze)}


def _log(*events) -> bytes:
    log = b""
    for minute, event in enumerate(events):
        log += next_event_line(log, f"2025-06-20T10:{minute:02d}:00Z", *event).encode() + b"\n"
    return log


def test_untouched_kit_replays_cleanly():
    assert _failures(vector_kit()) == []


def test_changed_results_row_is_refused():
    files = vector_kit()
    files["results.csv"] = (
        files["results.csv"].replace(b",S0002\n", b",\n").replace(b"9a0b,\n", b"9a0b,S0002\n")
    )

    failures = _failures(files)

    assert failures[0].startswith("results.csv: differs from the recomputed draw: line 4 is")


def test_added_entry_is_refused_by_the_digest():
    files = vector_kit()
    files["entries.csv"] += NEW_ID + b",1,1,TS,,\n"

    assert _failures(files)[0].startswith("entries digest: H(entries.csv) = ")


def test_added_entry_with_a_new_freeze_is_refused_by_the_results():
    files = vector_kit()
    files.update(_refrozen(entries=ENTRIES_CSV + NEW_ID + b",1,1,TS,,\n"))

    assert _failures(files)[0].startswith("results.csv: differs")


def test_removed_entry_is_refused():
    files = vector_kit()
    files["entries.csv"] = b"".join(ENTRIES_CSV.splitlines(keepends=True)[:-1])

    assert _failures(files)[0].startswith("entries digest:")


def test_changed_slot_is_refused():
    files = vector_kit()
    files["slots.csv"] = SLOTS_CSV.replace(b"S0005,P92", b"S0005,P75")

    assert _failures(files)[0].startswith("slots digest: H(slots.csv) = ")


def test_reveal_not_matching_its_commitment_is_refused():
    files = vector_kit()
    files["reveals.json"] = fairdraw.json_bytes(reveals(ddd_secret=hashlib.sha256(b"x").digest()))

    checks = {check.name: check for check in replay_files(files)}

    assert checks["reveal DDD"].message == "not counted: the secret does not match the commitment"
    assert not checks["results.csv"].ok


def test_late_reveal_counted_as_valid_is_refused():
    files = vector_kit()  # results computed with DDD's secret...
    late = reveals(ddd_at=REVEAL_DEADLINE.replace(second=4))  # ...published 1 s too late
    files["reveals.json"] = fairdraw.json_bytes(late)

    failures = _failures(files)

    assert failures == [failures[0]]
    assert failures[0].startswith("results.csv: differs")


def test_late_reveal_counted_as_withheld_replays_with_the_vector_seed():
    late = reveals(ddd_at=REVEAL_DEADLINE.replace(second=4))
    files = vector_kit(reveals=late)

    checks = {check.name: check for check in replay_files(files)}

    assert all(check.ok for check in checks.values())
    assert "after the deadline" in checks["reveal DDD"].message
    assert checks["non-revealers"].message.startswith("DDD")
    assert checks["seed"].message.startswith(f"seed {EXPECTED['seed_ddd_withheld']}")


def test_reveal_before_the_freeze_does_not_count():
    early = reveals(ddd_at=FREEZE_AT.replace(minute=59, hour=FREEZE_AT.hour - 1))

    checks = {check.name: check for check in replay_files(vector_kit(reveals=early))}

    assert "before the freeze" in checks["reveal DDD"].message


def test_forged_beacon_signature_is_refused():
    forged = "a" + relay_beacon()["signature"][1:]
    files = vector_kit()
    files["beacon.json"] = fairdraw.json_bytes(relay_beacon(signature=forged))

    failures = _failures(files)

    assert failures[0].startswith("beacon.json: beacon round 657413: the BLS signature does not")


def test_replay_without_the_signature_check_says_so_and_keeps_the_vector_seed():
    checks = {check.name: check for check in replay_files(vector_kit(), check_signature=False)}

    assert all(check.ok for check in checks.values())
    assert fairdraw.kit.SIGNATURE_NOT_CHECKED in checks["beacon.json"].message
    assert checks["seed"].message.startswith(f"seed {EXPECTED['seed']}")


def test_replay_without_the_signature_check_still_requires_randomness_to_be_h_of_it():
    files = vector_kit()
    files["beacon.json"] = fairdraw.json_bytes({**relay_beacon(), "randomness": "00" * 32})

    failures = [check.text for check in replay_files(files, check_signature=False) if not check.ok]

    assert failures[0].startswith("beacon.json: beacon round 657413: randomness '0000")


def test_beacon_of_another_round_is_refused():
    files = vector_kit()
    files["beacon.json"] = fairdraw.json_bytes(relay_beacon(round_number=657414))

    assert (
        _failures(files)[0] == "beacon.json: round 657414, but the announcement fixes round 657413"
    )


def test_announced_round_not_fixed_by_the_deadline_is_refused():
    files = vector_kit()
    announcement = json.loads(files["announcement.json"])
    announcement["beacon"]["round"] = 657400
    files["announcement.json"] = fairdraw.json_bytes(announcement)

    assert _failures(files)[0].startswith("beacon round: announced round 657400, but")


def test_broken_events_chain_is_refused():
    log = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7))
    files = vector_kit(events_log=log.replace(b"cancel", b"lapse"))

    assert _failures(files)[0].startswith("events.log chain: events.log line 2: chain broken")


def test_offer_skipping_a_better_ranked_entry_is_refused_by_the_replay():
    files = vector_kit(events_log=_log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK8)))

    assert _failures(files)[0].startswith("events.log offers: events.log line 2: offer of slot")


def test_lawful_events_replay_cleanly():
    log = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7), ("accept", "S0001", RANK7))

    checks = replay_files(vector_kit(events_log=log))

    assert all(check.ok for check in checks)
    assert checks[-1].message.startswith("1 offers, each to the best-ranked eligible entry")


def test_replay_without_a_beacon():
    files = vector_kit(with_beacon=False)

    checks = replay_files(files)

    assert all(check.ok for check in checks)
    assert "no beacon announced" in checks[11].message


def test_fallback_beacon_is_reported_as_unverifiable():
    files = vector_kit(beacon={"round": 657413, "signature": None, "randomness": None})

    checks = {check.name: check for check in replay_files(files)}

    assert checks["beacon.json"].ok
    assert "cannot be checked offline" in checks["beacon.json"].message


def test_cli_replay_names_the_first_failure(tmp_path):
    files = vector_kit()
    files["slots.csv"] = SLOTS_CSV.replace(b"S0005,P92", b"S0005,P75")
    fairdraw.write_kit(tmp_path, files)

    completed = run_cli("replay", str(tmp_path))

    assert completed.returncode == 1
    assert "FAIL slots digest: H(slots.csv) =" in completed.stdout
    assert "first failure: slots digest:" in completed.stdout.splitlines()[-1]


def _malformed_kits() -> dict[str, tuple]:
    def change(name, old, new):
        return lambda files: files.update({name: files[name].replace(old, new, 1)})

    def drop(name):
        return lambda files: files.pop(name)

    def put(name, data):
        return lambda files: files.update({name: data})

    return {
        "missing entries": (drop("entries.csv"), "entries.csv is missing from the kit"),
        "missing beacon": (drop("beacon.json"), "beacon.json is missing from the kit"),
        "missing results": (drop("results.csv"), "results.csv is missing from the kit"),
        "wrong header": (change("entries.csv", b"tier,weight", b"weight,tier"), "line 1: header"),
        "bad hex": (
            change("freeze.json", b'"entries_digest": "b0', b'"entries_digest": "x0'),
            "entries_digest 'x09a",
        ),
        "unsorted rows": (
            change("slots.csv", b"S0001,P75,TS,2025-07-01", b"S0001,P75,TS,2025-07-09"),
            "slots.csv line 3",
        ),
        "non-ASCII": (change("entries.csv", b"NAT,,15", b"NAT,,1\xc3\xa9"), "non-ASCII byte 0xc3"),
        "CRLF": (change("results.csv", b"\n", b"\r\n"), "carriage return"),
        "no final newline": (
            lambda f: f.update({"slots.csv": f["slots.csv"][:-1]}),
            "no \\n after",
        ),
        "bad JSON": (change("announcement.json", b"{", b"["), "announcement.json line"),
        "BOM in JSON": (
            lambda f: f.update({"freeze.json": b"\xef\xbb\xbf" + f["freeze.json"]}),
            "freeze.json line 1 column 1",
        ),
        "JSON not an object": (put("reveals.json", b"[]\n"), "expected a JSON object"),
        "missing party": (
            put("reveals.json", b'{"ANTS": {"secret": null, "revealed_at": null}}'),
            "missing ['DDD']",
        ),
        "beacon not hex": (
            change("beacon.json", b'"signature": "b7', b'"signature": "zz'),
            "96 lowercase hex",
        ),
        "bad time": (
            change("freeze.json", b"2023-09-14T20:00:00Z", b"2023-09-14 20:00"),
            "is not a UTC time",
        ),
        "empty results": (put("results.csv", b""), "results.csv: empty file"),
        "huge number": (
            put("freeze.json", b'{"entries_digest": ' + b"9" * 5000 + b"}"),
            "freeze.json",
        ),
    }


@pytest.mark.parametrize("case", sorted(_malformed_kits()))
def test_malformed_kit_is_a_clear_failure_without_traceback(tmp_path, case):
    alter, message = _malformed_kits()[case]
    files = vector_kit()
    alter(files)
    fairdraw.write_kit(tmp_path, files)

    completed = run_cli("replay", str(tmp_path))

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr + completed.stdout
    assert message in completed.stdout, completed.stdout


def test_missing_folder_is_a_clear_failure(tmp_path):
    completed = run_cli("replay", str(tmp_path / "nowhere"))

    assert completed.returncode == 1
    assert "no such folder" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_corrupt_zip_is_a_clear_failure(tmp_path):
    archive = tmp_path / "kit.zip"
    archive.write_bytes(fairdraw.kit_zip(vector_kit())[:-30])

    completed = run_cli("replay", str(archive))

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "FAIL kit:" in completed.stdout


def test_draw_command_on_a_malformed_kit_is_a_clear_failure(tmp_path):
    files = vector_kit()
    files["entries.csv"] = files["entries.csv"].replace(b"\n", b"\r\n")
    fairdraw.write_kit(tmp_path, files)

    completed = run_cli("draw", str(tmp_path))

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("FAIL entries.csv line 1: carriage return")


def test_draw_files_refuses_a_kit_with_an_unverifiable_beacon():
    files = vector_kit()
    files["beacon.json"] = fairdraw.json_bytes(relay_beacon(signature="c0" + "00" * 47))

    with pytest.raises(fairdraw.FairdrawError, match=r"^beacon\.json: beacon round 657413"):
        fairdraw.draw_files(files)


def test_withheld_secret_listed_as_non_revealer():
    files = vector_kit(reveals=reveals(ddd_at=None, ddd_secret=None))

    checks = {check.name: check for check in replay_files(files)}

    assert checks["reveal DDD"].message == "not counted: withheld (no secret published)"
    assert checks["non-revealers"].message == "DDD (counted as empty in the seed)"
    assert R_DDD.hex().encode() not in files["reveals.json"]


_FUZZ_BASE = vector_kit(events_log=_log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7)))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(_FUZZ_BASE)),
    st.integers(min_value=0),
    st.binary(max_size=3),
    st.integers(0, 3),
)
def test_replay_never_raises_on_a_mutated_kit(name, where, insert, cut):
    files = dict(_FUZZ_BASE)
    data = files[name]
    at = where % (len(data) + 1)
    files[name] = data[:at] + insert + data[at + cut :]

    checks = replay_files(files)

    assert all(isinstance(check.message, str) and check.message for check in checks)
    if name.endswith(".csv") and files[name] != data:  # digests and byte comparison catch it
        assert not all(check.ok for check in checks)
