"""Byte-level primitives of FAIRDRAW-1 sections 1, 4 and 7: H, HMAC, lp, commitments, seed, K."""

import hashlib
import hmac
from collections.abc import Mapping

from .errors import FairdrawError

SPEC = "FAIRDRAW-1"
_COMMIT_LABEL = b"FAIRDRAW-1/commit"
_SEED_LABEL = b"FAIRDRAW-1/seed"
_TICKET_LABEL = b"FAIRDRAW-1/ticket-key"


def H(data: bytes) -> bytes:
    """SHA-256 of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def file_digest(data: bytes) -> bytes:
    """The digest of a published file: H of its exact bytes."""
    return hashlib.sha256(data).digest()


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def lp(data: bytes) -> bytes:
    """``u32(len(data)) || data``."""
    return u32(len(data)) + data


def ascii_bytes(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise FairdrawError(f"{what} {text!r} is not ASCII") from None


def commitment(draw_id: str, party_id: str, secret: bytes) -> bytes:
    """``c_i = H(lp("FAIRDRAW-1/commit") || lp(draw_id) || lp(party_id) || lp(r_i))``."""
    return H(
        lp(_COMMIT_LABEL)
        + lp(ascii_bytes(draw_id, "draw_id"))
        + lp(ascii_bytes(party_id, "party_id"))
        + lp(secret)
    )


def reveal_matches(draw_id: str, party_id: str, secret: bytes, expected: bytes) -> bool:
    """True iff ``secret`` is 32 bytes and recomputes the commitment ``expected``."""
    return len(secret) == 32 and hmac.compare_digest(
        commitment(draw_id, party_id, secret), expected
    )


def compute_seed(
    *,
    draw_id: str,
    entries_digest: bytes,
    slots_digest: bytes,
    secrets: Mapping[str, bytes],
    chain_hash: bytes = b"",
    beacon_round: int = 0,
    beacon_randomness: bytes = b"",
) -> bytes:
    """The seed of section 7.

    ``secrets`` maps every announced party_id to its counted ``r_i``: 32 bytes for a valid
    reveal, ``b""`` for a withheld or invalid one (``k = len(secrets)``). Without a beacon (no
    beacon announced, or the fallback) leave the three beacon arguments at their defaults.
    """
    if len(entries_digest) != 32 or len(slots_digest) != 32:
        raise FairdrawError("entries_digest and slots_digest must be 32 raw bytes")
    if not 0 <= beacon_round < 2**64:
        raise FairdrawError(f"beacon round {beacon_round} does not fit in u64")
    parts = [
        lp(_SEED_LABEL),
        lp(ascii_bytes(draw_id, "draw_id")),
        lp(entries_digest),
        lp(slots_digest),
        u32(len(secrets)),
    ]
    for party_id, secret in sorted(
        ((ascii_bytes(p, "party_id"), s) for p, s in secrets.items()), key=lambda item: item[0]
    ):
        parts.append(lp(party_id) + lp(secret))
    parts += [lp(chain_hash), u64(beacon_round), lp(beacon_randomness)]
    return H(b"".join(parts))


def ticket_key(seed: bytes) -> bytes:
    """``K = HMAC(seed, "FAIRDRAW-1/ticket-key")``."""
    return hmac.new(seed, _TICKET_LABEL, hashlib.sha256).digest()
