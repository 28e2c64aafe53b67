"""FAIRDRAW-1 section 12, byte for byte."""

import hashlib

import lottery.fairdraw as fairdraw
from lottery.fairdraw.beacon import QUICKNET_CHAIN_HASH

from .vector import (
    BEACON_ROUND,
    DRAW_ID,
    ENTRIES_CSV,
    EXPECTED,
    R_ANTS,
    R_DDD,
    RESULTS_CSV,
    SIGNATURE,
    SLOTS_CSV,
    run_cli,
    vector_kit,
)


def _seed(ddd_secret: bytes) -> bytes:
    return fairdraw.compute_seed(
        draw_id=DRAW_ID,
        entries_digest=fairdraw.file_digest(ENTRIES_CSV),
        slots_digest=fairdraw.file_digest(SLOTS_CSV),
        secrets={"ANTS": R_ANTS, "DDD": ddd_secret},
        chain_hash=QUICKNET_CHAIN_HASH,
        beacon_round=BEACON_ROUND,
        beacon_randomness=bytes.fromhex(EXPECTED["beacon_randomness"]),
    )


def test_digests_match_the_vector():
    assert fairdraw.file_digest(ENTRIES_CSV).hex() == EXPECTED["entries_digest"]
    assert fairdraw.file_digest(SLOTS_CSV).hex() == EXPECTED["slots_digest"]


def test_commitments_match_the_vector():
    assert fairdraw.commitment(DRAW_ID, "ANTS", R_ANTS).hex() == EXPECTED["c_ANTS"]
    assert fairdraw.commitment(DRAW_ID, "DDD", R_DDD).hex() == EXPECTED["c_DDD"]


def test_beacon_randomness_verified_by_drand_verify():
    randomness = fairdraw.verify_quicknet(BEACON_ROUND, SIGNATURE)

    assert randomness.hex() == EXPECTED["beacon_randomness"]


def test_seed_matches_the_vector():
    assert _seed(R_DDD).hex() == EXPECTED["seed"]


def test_seed_with_ddd_withheld_matches_the_vector():
    assert _seed(b"").hex() == EXPECTED["seed_ddd_withheld"]


def test_seed_does_not_depend_on_the_order_parties_are_given():
    reordered = fairdraw.compute_seed(
        draw_id=DRAW_ID,
        entries_digest=fairdraw.file_digest(ENTRIES_CSV),
        slots_digest=fairdraw.file_digest(SLOTS_CSV),
        secrets={"DDD": R_DDD, "ANTS": R_ANTS},
        chain_hash=QUICKNET_CHAIN_HASH,
        beacon_round=BEACON_ROUND,
        beacon_randomness=bytes.fromhex(EXPECTED["beacon_randomness"]),
    )

    assert reordered.hex() == EXPECTED["seed"]


def test_ticket_key_matches_the_vector():
    assert fairdraw.ticket_key(_seed(R_DDD)).hex() == EXPECTED["ticket_key"]


def test_results_csv_matches_the_vector_byte_for_byte():
    entries = fairdraw.parse_entries(ENTRIES_CSV)
    slots = fairdraw.parse_slots(SLOTS_CSV)

    results = fairdraw.draw(entries, slots, _seed(R_DDD))

    assert fairdraw.results_csv(results) == RESULTS_CSV
    assert hashlib.sha256(RESULTS_CSV).hexdigest() == EXPECTED["results_digest"]


def test_results_rows_and_csv_paths_agree():
    entries = fairdraw.parse_entries(ENTRIES_CSV)
    slots = fairdraw.parse_slots(SLOTS_CSV)

    results = fairdraw.draw(entries, slots, _seed(R_DDD))

    assert list(results) == fairdraw.parse_results(RESULTS_CSV)
    assert fairdraw.results_csv(list(results)) == RESULTS_CSV
    assert results[3] == fairdraw.parse_results(RESULTS_CSV)[3]


def test_build_kit_computes_the_vector_results():
    files = vector_kit()

    assert files["results.csv"] == RESULTS_CSV


def test_replay_of_the_vector_kit_exits_zero(tmp_path):
    fairdraw.write_kit(tmp_path, vector_kit())

    completed = run_cli("replay", str(tmp_path))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"OK   results.csv: digest {EXPECTED['results_digest']}" in completed.stdout
    assert f"seed {EXPECTED['seed']}, ticket key K {EXPECTED['ticket_key']}" in completed.stdout
    assert completed.stdout.rstrip().endswith("REPLAY OK: all 16 checks hold")


def test_replay_of_the_zipped_vector_kit_exits_zero(tmp_path):
    archive = tmp_path / "kit.zip"
    archive.write_bytes(fairdraw.kit_zip(vector_kit()))

    completed = run_cli("replay", str(archive))

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_draw_command_writes_the_vector_results(tmp_path):
    files = vector_kit()
    del files["results.csv"]
    fairdraw.write_kit(tmp_path, files)

    completed = run_cli("draw", str(tmp_path))

    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "results.csv").read_bytes() == RESULTS_CSV
    assert completed.stdout.splitlines()[-1] == f"results.csv digest {EXPECTED['results_digest']}"


def test_draw_command_refuses_to_overwrite_a_different_results_csv(tmp_path):
    files = vector_kit()
    files["results.csv"] = RESULTS_CSV.replace(b",S0001\n", b",S0004\n", 1)
    fairdraw.write_kit(tmp_path, files)

    completed = run_cli("draw", str(tmp_path))

    assert completed.returncode == 1
    assert "exists and differs from this draw" in completed.stderr
    assert (tmp_path / "results.csv").read_bytes() == files["results.csv"]
