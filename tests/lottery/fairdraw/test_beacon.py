"""Beacon round arithmetic and BLS verification (FAIRDRAW-1 section 5)."""

import calendar
import datetime
import hashlib

import pytest

from lottery.fairdraw import FairdrawError, round_for_time, round_time, verify_beacon
from lottery.fairdraw.beacon import beacon_round_for_deadline, verify_quicknet

from .vector import BEACON_ROUND, SIGNATURE


def _unix(*fields: int) -> int:
    return calendar.timegm(datetime.datetime(*fields, tzinfo=datetime.UTC).utctimetuple())


def test_round_for_the_specification_example():
    deadline = _unix(2025, 6, 11, 12, 0, 0)

    assert beacon_round_for_deadline(deadline) == 18947812
    assert round_time(18947812) == _unix(2025, 6, 11, 13, 0, 0)


def test_round_for_time_at_and_just_after_a_round():
    emitted = round_time(657413)

    assert round_for_time(emitted) == 657413
    assert round_for_time(emitted + 1) == 657414
    assert round_for_time(emitted - 2) == 657413


def test_round_for_time_before_genesis_is_round_one():
    assert round_for_time(0) == 1
    assert round_for_time(1692803367) == 1
    assert round_for_time(1692803368) == 2


def test_vector_beacon_verifies():
    randomness = verify_beacon(
        BEACON_ROUND, SIGNATURE, hashlib.sha256(bytes.fromhex(SIGNATURE)).hexdigest()
    )

    assert randomness.hex().startswith("fc1873a1")


@pytest.mark.parametrize(
    ("round_number", "signature", "message"),
    [
        (BEACON_ROUND + 1, SIGNATURE, "does not verify"),
        (BEACON_ROUND, SIGNATURE[:-2] + "9a", "does not verify"),
        (BEACON_ROUND, "c0" + "00" * 47, "does not verify"),  # the point at infinity
        (BEACON_ROUND, "00" * 48, "does not verify"),
        (BEACON_ROUND, SIGNATURE.upper(), "96 lowercase hex"),
        (BEACON_ROUND, "zz" * 48, "96 lowercase hex"),  # would make drand-verify panic
        (BEACON_ROUND, SIGNATURE[:-1], "96 lowercase hex"),
        (0, SIGNATURE, "outside 1 .. 2^64-1"),
        (2**64, SIGNATURE, "outside 1 .. 2^64-1"),
        (True, SIGNATURE, "not an integer"),
    ],
)
def test_unverifiable_beacons_are_refused(round_number, signature, message):
    with pytest.raises(FairdrawError, match="beacon") as raised:
        verify_quicknet(round_number, signature)

    assert message in str(raised.value)


def test_randomness_other_than_hash_of_signature_is_refused():
    with pytest.raises(FairdrawError, match="is not H\\(signature\\)"):
        verify_beacon(BEACON_ROUND, SIGNATURE, "00" * 32)
