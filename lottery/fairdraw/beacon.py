"""The drand quicknet beacon of FAIRDRAW-1 section 5: round arithmetic and verification.

Only ``verify_quicknet`` needs a BLS12-381 library (``drand-verify``); it is imported there, so
a replay without a beacon, and everything else in the package, needs the standard library only.
"""

import hashlib
import re

from .errors import FairdrawError

QUICKNET_CHAIN_HASH = bytes.fromhex(
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
)
QUICKNET_PUBLIC_KEY = bytes.fromhex(
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
QUICKNET_SCHEME = "bls-unchained-g1-rfc9380"
QUICKNET_GENESIS = 1692803367
QUICKNET_PERIOD = 3
BLS_PACKAGE = "drand-verify==0.2.1"  # what to pip install to check signatures
REVEAL_MARGIN = 3600  # round R is the first one at least this long after the reveal deadline

_SIGNATURE_RE = re.compile(r"[0-9a-f]{96}")
_MAX_ROUND = 2**64 - 1


def round_time(round_number: int) -> int:
    """Unix time (seconds) at which quicknet emits ``round_number`` (round 1 at genesis)."""
    return QUICKNET_GENESIS + QUICKNET_PERIOD * (round_number - 1)


def round_for_time(unix_seconds: int) -> int:
    """The first quicknet round emitted at or after ``unix_seconds``.

    ``R = ceil((t - genesis) / 3) + 1``, and 1 for any time up to genesis (round 1 is the
    first round there is). Section 5 uses ``t = reveal deadline + 3600``.
    """
    if unix_seconds <= QUICKNET_GENESIS:
        return 1
    return -(-(unix_seconds - QUICKNET_GENESIS) // QUICKNET_PERIOD) + 1


def beacon_round_for_deadline(reveal_deadline_unix: int) -> int:
    """R for a reveal deadline given in whole Unix seconds (section 5)."""
    return round_for_time(reveal_deadline_unix + REVEAL_MARGIN)


def verify_quicknet(round_number: int, signature_hex: str) -> bytes:
    """Check a quicknet round's BLS signature and return its randomness ``H(signature)``.

    The signature must be 96 lowercase hex characters (48 bytes, compressed G1) and verify
    on ``H(u64(round))`` under the pinned quicknet public key (drand-verify embeds the same
    key as ``QUICKNET_PUBLIC_KEY``). Anything else raises FairdrawError: an unverified value
    is never accepted.
    """
    _check_shape(round_number, signature_hex)
    try:
        import drand_verify
    except ImportError:
        raise FairdrawError(
            "cannot verify the beacon: the drand-verify package is not installed "
            f"(pip install {BLS_PACKAGE})"
        ) from None
    try:
        reported = drand_verify.verify_quicknet(round_number, signature_hex)
    except (ValueError, TypeError, OverflowError) as error:
        raise FairdrawError(
            f"beacon round {round_number}: the BLS signature does not verify against the "
            f"quicknet public key ({error})"
        ) from None
    randomness = hashlib.sha256(bytes.fromhex(signature_hex)).digest()
    if reported != randomness.hex():  # pragma: no cover (would be a drand-verify bug)
        raise FairdrawError("drand-verify returned a randomness other than H(signature)")
    return randomness


def _check_shape(round_number: int, signature_hex: str) -> None:
    if isinstance(round_number, bool) or not isinstance(round_number, int):
        raise FairdrawError(f"beacon round {round_number!r} is not an integer")
    if not 1 <= round_number <= _MAX_ROUND:
        raise FairdrawError(f"beacon round {round_number} is outside 1 .. 2^64-1")
    if not isinstance(signature_hex, str) or not _SIGNATURE_RE.fullmatch(signature_hex):
        raise FairdrawError("beacon signature is not 96 lowercase hex characters (48 bytes)")


def verify_beacon(
    round_number: int, signature_hex: str, randomness_hex: str, *, check_signature: bool = True
) -> bytes:
    """``verify_quicknet`` plus the relay's ``randomness`` field, which must equal H(signature).

    ``check_signature=False`` skips only the BLS check, for a replay on a machine without
    drand-verify (the kit's replay.py): the seed can still be recomputed from the published
    signature, but nothing then shows that drand made it, and the caller must say so.
    """
    if check_signature:
        randomness = verify_quicknet(round_number, signature_hex)
    else:
        _check_shape(round_number, signature_hex)
        randomness = hashlib.sha256(bytes.fromhex(signature_hex)).digest()
    if randomness_hex != randomness.hex():
        raise FairdrawError(
            f"beacon round {round_number}: randomness {randomness_hex!r} is not H(signature) "
            f"= {randomness.hex()}"
        )
    return randomness
