"""The JSON files of the replay kit (FAIRDRAW-1 section 13): parsing, checking, writing.

announcement.json (T0), freeze.json (T2), reveals.json (T3) and beacon.json (T5). Parsers are
strict about what the draw depends on and ignore informative keys. They raise FairdrawError
with the file name and, for JSON syntax errors, the line and column.
"""

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .beacon import (
    QUICKNET_CHAIN_HASH,
    QUICKNET_PUBLIC_KEY,
    QUICKNET_SCHEME,
    beacon_round_for_deadline,
)
from .crypto import SPEC, file_digest, reveal_matches
from .errors import FairdrawError
from .times import format_utc, parse_utc, unix_seconds_ceil

DRAW_ID_RE = re.compile(r"[A-Z0-9-]{1,64}")
PARTY_ID_RE = re.compile(r"[A-Z0-9_]{1,32}")
_HEX32_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Announcement:
    draw_id: str
    commitments: dict[str, bytes]  # party_id -> c_i, in announced order
    beacon_round: int | None  # None: no beacon announced
    registration_closes: datetime.datetime
    freeze: datetime.datetime
    reveal_deadline: datetime.datetime


@dataclass(frozen=True)
class Freeze:
    entries_digest: bytes
    slots_digest: bytes
    published_at: datetime.datetime


@dataclass(frozen=True)
class Reveal:
    secret: str | None  # as published (hex text), None if withheld
    revealed_at: datetime.datetime | None


@dataclass(frozen=True)
class Verdict:
    """How one party's reveal counts in the seed: ``secret`` is b"" when it does not count."""

    party_id: str
    secret: bytes
    reason: str

    @property
    def counted(self) -> bool:
        return bool(self.secret)


@dataclass(frozen=True)
class BeaconRecord:
    round: int
    signature: str | None  # None (with randomness None): the section 5 fallback is claimed
    randomness: str | None


# Reading -------------------------------------------------------------------------------------


def load_json(name: str, data: bytes) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes: duplicate keys, NaN and Infinity are refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FairdrawError(f"{name}: not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys(name), parse_constant=_no_nan(name))
    except FairdrawError:
        raise
    except json.JSONDecodeError as error:
        raise FairdrawError(
            f"{name} line {error.lineno} column {error.colno}: invalid JSON: {error.msg}"
        ) from None
    except (ValueError, RecursionError) as error:  # e.g. a number with too many digits
        raise FairdrawError(f"{name}: unreadable JSON: {error}") from None
    if not isinstance(value, dict):
        raise FairdrawError(f"{name}: expected a JSON object, found {type(value).__name__}")
    return value


def _unique_keys(name: str):
    def build(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise FairdrawError(f"{name}: duplicate key {key!r}")
            result[key] = value
        return result

    return build


def _no_nan(name: str):
    def refuse(token: str):
        raise FairdrawError(f"{name}: {token} is not allowed in JSON")

    return refuse


def _get(obj: Mapping, key: str, where: str) -> Any:
    if key not in obj:
        raise FairdrawError(f"{where}: missing key {key!r}")
    return obj[key]


def _text(obj: Mapping, key: str, where: str, pattern: re.Pattern, shape: str) -> str:
    value = _get(obj, key, where)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise FairdrawError(f"{where}: {key} {value!r} is not {shape}")
    return value


def _hex32(obj: Mapping, key: str, where: str) -> bytes:
    return bytes.fromhex(_text(obj, key, where, _HEX32_RE, "64 lowercase hex characters"))


def _integer(obj: Mapping, key: str, where: str) -> int:
    value = _get(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FairdrawError(f"{where}: {key} {value!r} is not an integer")
    return value


def _object(obj: Mapping, key: str, where: str) -> Mapping:
    value = _get(obj, key, where)
    if not isinstance(value, dict):
        raise FairdrawError(f"{where}: {key} is not a JSON object")
    return value


def parse_announcement(data: bytes, name: str = "announcement.json") -> Announcement:
    obj = load_json(name, data)
    if _get(obj, "spec", name) != SPEC:
        raise FairdrawError(f"{name}: spec is {obj['spec']!r}, this engine implements {SPEC!r}")
    draw_id = _text(obj, "draw_id", name, DRAW_ID_RE, "[A-Z0-9-]{1,64}")
    commitments = _parties(_get(obj, "parties", name), name)
    beacon_round = _beacon_spec(_get(obj, "beacon", name), name)
    schedule = _object(obj, "schedule", name)
    times = {
        key: parse_utc(_get(schedule, key, f"{name} schedule"), f"{name} schedule.{key}")
        for key in ("registration_closes", "freeze", "reveal_deadline")
    }
    if not times["registration_closes"] <= times["freeze"] <= times["reveal_deadline"]:
        raise FairdrawError(
            f"{name}: schedule must have registration_closes <= freeze <= reveal_deadline"
        )
    return Announcement(draw_id, commitments, beacon_round, **times)


def _parties(value: Any, name: str) -> dict[str, bytes]:
    if not isinstance(value, list) or not value:
        raise FairdrawError(f"{name}: parties must be a non-empty list")
    commitments: dict[str, bytes] = {}
    for number, party in enumerate(value, start=1):
        where = f"{name} parties[{number}]"
        if not isinstance(party, dict):
            raise FairdrawError(f"{where}: not a JSON object")
        party_id = _text(party, "party_id", where, PARTY_ID_RE, "[A-Z0-9_]{1,32}")
        if party_id in commitments:
            raise FairdrawError(f"{where}: party {party_id} is announced twice")
        commitments[party_id] = _hex32(party, "commitment", where)
    return commitments


def _beacon_spec(value: Any, name: str) -> int | None:
    if value is None:
        return None
    where = f"{name} beacon"
    if not isinstance(value, dict):
        raise FairdrawError(f"{where}: must be null or a JSON object")
    if _get(value, "chain_hash", where) != QUICKNET_CHAIN_HASH.hex():
        raise FairdrawError(f"{where}: chain_hash is not drand quicknet's")
    if _get(value, "public_key", where) != QUICKNET_PUBLIC_KEY.hex():
        raise FairdrawError(f"{where}: public_key is not drand quicknet's")
    if _get(value, "scheme", where) != QUICKNET_SCHEME:
        raise FairdrawError(f"{where}: scheme is not {QUICKNET_SCHEME!r}")
    beacon_round = _integer(value, "round", where)
    if not 1 <= beacon_round < 2**64:
        raise FairdrawError(f"{where}: round {beacon_round} is outside 1 .. 2^64-1")
    return beacon_round


def parse_freeze(data: bytes, name: str = "freeze.json") -> Freeze:
    obj = load_json(name, data)
    return Freeze(
        entries_digest=_hex32(obj, "entries_digest", name),
        slots_digest=_hex32(obj, "slots_digest", name),
        published_at=parse_utc(_get(obj, "published_at", name), f"{name} published_at"),
    )


def parse_reveals(
    data: bytes, party_ids: list[str], name: str = "reveals.json"
) -> dict[str, Reveal]:
    """One ``Reveal`` per announced party: a missing or unknown party is a malformed kit."""
    obj = load_json(name, data)
    missing = [party for party in party_ids if party not in obj]
    unknown = sorted(set(obj) - set(party_ids))
    if missing or unknown:
        raise FairdrawError(
            f"{name}: must have one key per announced party; missing {missing or 'none'}, "
            f"not announced {unknown or 'none'}"
        )
    reveals = {}
    for party_id in party_ids:
        where = f"{name} {party_id}"
        entry = obj[party_id]
        if not isinstance(entry, dict):
            raise FairdrawError(f"{where}: not a JSON object")
        secret = _get(entry, "secret", where)
        if secret is not None and not isinstance(secret, str):
            raise FairdrawError(f"{where}: secret must be a hex string or null")
        at = _get(entry, "revealed_at", where)
        revealed_at = None if at is None else parse_utc(at, f"{where} revealed_at")
        reveals[party_id] = Reveal(secret, revealed_at)
    return reveals


def parse_beacon(data: bytes, name: str = "beacon.json") -> BeaconRecord:
    """The relay's round JSON; null signature and randomness claim the section 5 fallback."""
    obj = load_json(name, data)
    beacon_round = _integer(obj, "round", name)
    signature, randomness = _get(obj, "signature", name), _get(obj, "randomness", name)
    if signature is None and randomness is None:
        return BeaconRecord(beacon_round, None, None)
    if not isinstance(signature, str) or not isinstance(randomness, str):
        raise FairdrawError(f"{name}: signature and randomness must both be hex strings")
    return BeaconRecord(beacon_round, signature, randomness)


# Checking ------------------------------------------------------------------------------------


def judge_reveal(
    *,
    draw_id: str,
    party_id: str,
    commitment: bytes,
    reveal: Reveal,
    freeze_published_at: datetime.datetime,
    reveal_deadline: datetime.datetime,
) -> Verdict:
    """Whether a reveal counts (sections 4 and 13), and why not when it does not."""

    def refused(reason: str) -> Verdict:
        return Verdict(party_id, b"", f"not counted: {reason}")

    if reveal.secret is None:
        return refused("withheld (no secret published)")
    if reveal.revealed_at is None:
        return refused("a secret without a publication time")
    if not _HEX32_RE.fullmatch(reveal.secret):
        return refused("the secret is not 32 bytes written as 64 lowercase hex characters")
    secret = bytes.fromhex(reveal.secret)
    if not reveal_matches(draw_id, party_id, secret, commitment):
        return refused("the secret does not match the commitment")
    at = format_utc(reveal.revealed_at)
    if reveal.revealed_at < freeze_published_at:
        return refused(f"revealed at {at}, before the freeze ({format_utc(freeze_published_at)})")
    if reveal.revealed_at > reveal_deadline:
        return refused(f"revealed at {at}, after the deadline ({format_utc(reveal_deadline)})")
    return Verdict(party_id, secret, f"valid, revealed at {at}")


def expected_beacon_round(announcement: Announcement) -> int:
    """Section 5: the first round at least 3600 s after the reveal deadline."""
    return beacon_round_for_deadline(unix_seconds_ceil(announcement.reveal_deadline))


# Writing -------------------------------------------------------------------------------------


def json_bytes(value: Mapping) -> bytes:
    """How the kit writes JSON: 2-space indent, ASCII, a final newline."""
    return (json.dumps(value, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def make_announcement(
    *,
    draw_id: str,
    commitments: Mapping[str, bytes],
    registration_closes: datetime.datetime,
    freeze: datetime.datetime,
    reveal_deadline: datetime.datetime,
    beacon: bool = True,
    informative: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """announcement.json content; with ``beacon`` the round R is computed from the deadline.

    ``informative`` keys (rules, software version, offer duration...) are added as given and
    ignored by the replay. The result is checked by ``parse_announcement``.
    """
    value: dict[str, Any] = {
        "spec": SPEC,
        "draw_id": draw_id,
        "parties": [
            {"party_id": party_id, "commitment": commitment.hex()}
            for party_id, commitment in commitments.items()
        ],
        "beacon": None,
        "schedule": {
            "registration_closes": format_utc(registration_closes),
            "freeze": format_utc(freeze),
            "reveal_deadline": format_utc(reveal_deadline),
        },
    }
    if beacon:
        deadline = unix_seconds_ceil(reveal_deadline.astimezone(datetime.timezone.utc))
        value["beacon"] = {
            "chain_hash": QUICKNET_CHAIN_HASH.hex(),
            "public_key": QUICKNET_PUBLIC_KEY.hex(),
            "scheme": QUICKNET_SCHEME,
            "round": beacon_round_for_deadline(deadline),
        }
    for key, item in (informative or {}).items():
        if key in value:
            raise FairdrawError(f"informative key {key!r} would overwrite a normative one")
        value[key] = item
    parse_announcement(json_bytes(value))
    return value


def make_freeze(
    *, entries_csv: bytes, slots_csv: bytes, published_at: datetime.datetime
) -> dict[str, str]:
    """freeze.json content for the frozen files."""
    return {
        "entries_digest": file_digest(entries_csv).hex(),
        "slots_digest": file_digest(slots_csv).hex(),
        "published_at": format_utc(published_at),
    }


def make_reveals(
    reveals: Mapping[str, tuple[bytes | None, datetime.datetime | None]],
) -> dict[str, dict[str, str | None]]:
    """reveals.json content from ``{party_id: (secret or None, revealed_at or None)}``."""
    return {
        party_id: {
            "secret": None if secret is None else secret.hex(),
            "revealed_at": None if at is None else format_utc(at),
        }
        for party_id, (secret, at) in reveals.items()
    }
