"""Entry keys, order and assignment: FAIRDRAW-1 sections 7 (keys), 8 and 9.

Everything here is a pure function of its arguments. The code is shaped for CPython speed (one
tight loop for the tickets, C-level ``map``/``sorted`` elsewhere, the garbage collector paused)
because a draw has a million entries; the contract of each function is in its docstring.
"""

import hashlib
from binascii import hexlify
from collections import Counter, deque
from collections.abc import Sequence
from itertools import compress, islice
from operator import attrgetter, eq, lt
from typing import NamedTuple

from .canonical import (
    RESULTS_HEADER,
    Entry,
    ResultRow,
    Slot,
    gc_paused,
    slot_order_key,
    weekday,
)
from .crypto import lp, ticket_key, u32

_SUFFIXES = {j: u32(j) for j in range(1, 5)}
_LP32 = u32(32)


def entry_keys(entries: Sequence[Entry], key: bytes) -> list[bytes]:
    """``key_e`` for every entry, in the order of ``entries`` (section 7).

    ``key`` is the ticket key K. Ticket ``t(e, j) = HMAC(K, lp(entry_id) || u32(j))`` and
    ``key_e = max_j t(e, j)`` for ``j = 1 .. weight``.
    """
    return keys_from_prefixes(*ticket_prefixes(entries), key)


def ticket_prefixes(entries: Sequence[Entry]) -> tuple[list[bytes], list[int]]:
    """``lp(entry_id)`` and the weight of every entry (the per-entry inputs of the tickets)."""
    ids = [entry.entry_id.encode("ascii") for entry in entries]
    if all(len(entry_id) == 32 for entry_id in ids):
        prefixes = [_LP32 + entry_id for entry_id in ids]
    else:
        prefixes = [lp(entry_id) for entry_id in ids]
    weights = list(map(attrgetter("weight"), entries))
    if not set(weights) <= set(_SUFFIXES):
        raise ValueError("every weight must be 1, 2, 3 or 4")
    return prefixes, weights


def keys_from_prefixes(prefixes: list[bytes], weights: list[int], key: bytes) -> list[bytes]:
    """``max_j HMAC(key, prefix || u32(j))`` over ``j = 1 .. weight`` for each entry.

    HMAC from precomputed ipad/opad SHA-256 states: copying the two states is bit-identical to
    ``hmac.new`` (RFC 2104) and about twice as fast in CPython. The loop is written out, with
    no helper call and no regrouping by weight, because at two million tickets every Python
    operation per ticket shows in the total.
    """
    inner_state, outer_state = _hmac_states(key)
    inner_copy, outer_copy = inner_state.copy, outer_state.copy
    first = _SUFFIXES[1]
    more = (None, (), (_SUFFIXES[2],), (_SUFFIXES[2], _SUFFIXES[3]), tuple(_SUFFIXES.values())[1:])
    keys: list[bytes] = []
    append = keys.append
    for prefix, weight in zip(prefixes, weights, strict=True):
        inner = inner_copy()
        inner.update(prefix + first)
        outer = outer_copy()
        outer.update(inner.digest())
        best = outer.digest()
        for suffix in more[weight]:
            inner = inner_copy()
            inner.update(prefix + suffix)
            outer = outer_copy()
            outer.update(inner.digest())
            ticket = outer.digest()
            if ticket > best:
                best = ticket
        append(best)
    return keys


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _hmac_states(key: bytes):
    """SHA-256 states after the ipad and opad blocks of HMAC(key, .) (RFC 2104)."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


def order(entries: Sequence[Entry], keys: Sequence[bytes]) -> list[int]:
    """Indices of ``entries`` in rank order (section 8).

    Sort by tier ascending, then key descending, then entry_id ascending (byte order).
    """
    ids = list(map(attrgetter("entry_id"), entries))
    if all(map(lt, ids, islice(ids, 1, None))):
        positions: Sequence[int] = range(len(ids))
    else:
        positions = sorted(range(len(ids)), key=ids.__getitem__)
    # Python's sort is stable, and stays stable with reverse=True: equal keys keep the
    # entry_id order established above, and equal tiers keep the key order.
    ranked = sorted(positions, key=keys.__getitem__, reverse=True)
    tiers = list(map(attrgetter("tier"), entries))
    if len(set(tiers)) > 1:
        ranked.sort(key=tiers.__getitem__)
    return ranked


def assign(entries: Sequence[Entry], slots: Sequence[Slot], ranked: Sequence[int]) -> list[int]:
    """Serial dictatorship (section 9): the slot index given to each entry, or -1.

    ``slots`` must be in canonical slot order (see ``canonical_slots``); the result is indexed
    like ``entries``. Each (procedure, site, weekday) has one queue of slot indices in canonical
    order; an entry takes the smallest head among its compatible queues, found with one C-level
    ``min`` over those heads instead of a scan over the slots.
    """
    queues = _queues(slots)
    done = len(slots)  # the head of an exhausted queue: larger than any slot index
    heads = [queue[0] for queue in queues.values()]
    queue_of = [0] * len(slots)
    for number, queue in enumerate(queues.values()):
        for index in queue:
            queue_of[index] = number
    following = _following(queues.values(), done, len(slots))
    profiles: dict[tuple, tuple[int, ...]] = {}
    given = [-1] * len(entries)
    remaining = len(slots)
    for i in ranked:
        if not remaining:
            break
        entry = entries[i]
        profile = (entry.procedure, entry.sites, entry.excluded_weekdays)
        compatible = profiles.get(profile)
        if compatible is None:
            compatible = profiles[profile] = _compatible(profile, queues)
        if not compatible:
            continue
        first = min(map(heads.__getitem__, compatible))
        if first == done:
            profiles[profile] = ()  # every compatible queue is exhausted
            continue
        given[i] = first
        heads[queue_of[first]] = following[first]
        remaining -= 1
    return given


def _queues(slots: Sequence[Slot]) -> dict[tuple[str, str, int], list[int]]:
    """Slot indices (canonical order) per (procedure, site, weekday), keyed in a fixed order."""
    weekdays: dict[str, int] = {}
    queues: dict[tuple[str, str, int], list[int]] = {}
    for index, slot in enumerate(slots):
        day = weekdays.get(slot.date)
        if day is None:
            day = weekdays[slot.date] = weekday(slot.date)
        queues.setdefault((slot.procedure, slot.site, day), []).append(index)
    return queues


def _following(queues, done: int, size: int) -> list[int]:
    """For each slot index, the next slot index in its queue (``done`` after the last)."""
    following = [done] * size
    for queue in queues:
        deque(map(following.__setitem__, queue[:-1], queue[1:]), maxlen=0)
    return following


def _compatible(profile, queues) -> tuple[int, ...]:
    """Numbers of the queues an entry with this (procedure, sites, excluded days) may use."""
    procedure, sites, excluded = profile
    return tuple(
        number
        for number, (queue_procedure, site, day) in enumerate(queues)
        if queue_procedure == procedure and (not sites or site in sites) and day not in excluded
    )


def canonical_slots(slots: Sequence[Slot]) -> list[Slot]:
    """``slots`` in canonical slot order (a no-op for slots parsed from slots.csv)."""
    listed = list(slots)
    keys = list(map(slot_order_key, listed))
    if all(map(lt, keys, islice(keys, 1, None))):
        return listed
    return sorted(listed, key=slot_order_key)


def draw(entries: Sequence[Entry], slots: Sequence[Slot], seed: bytes) -> "Results":
    """The whole draw from a seed: results.csv rows in rank order (sections 7 to 9).

    ``entries`` and ``slots`` should come from ``parse_entries``/``parse_slots`` on the frozen
    bytes (their digests are in the seed); slots are put in canonical order if they are not.
    """
    with gc_paused():
        slots = canonical_slots(slots)
        keys = entry_keys(entries, ticket_key(seed))
        ranked = order(entries, keys)
        given = assign(entries, slots, ranked)
        return Results(entries, slots, keys, ranked, given)


class ResultColumns(NamedTuple):
    """The results as columns in rank order: item i of each list belongs to rank i + 1."""

    entry_id: list[str]
    tier: list[int]
    weight: list[int]
    key: list[bytes]
    slot_id: list[str | None]


class Results(Sequence[ResultRow]):
    """The outcome of a draw: a read-only sequence of ``ResultRow`` in rank order.

    Rows are built on the first iteration (then kept), and ``csv()`` writes results.csv
    without building them: a million rows cost seconds as tuples but about one second as
    text, because the text is assembled in entry order (cache-friendly) and gathered once in
    rank order.
    """

    __slots__ = ("_entries", "_given", "_keys", "_ranked", "_rows", "_slot_ids")

    def __init__(self, entries, slots, keys, ranked, given) -> None:
        self._entries = entries
        self._slot_ids: list[str | None] = [slot.slot_id for slot in slots]
        self._slot_ids.append(None)  # given == -1 picks this
        self._keys = keys
        self._ranked = ranked
        self._given = given
        self._rows: list[ResultRow] | None = None  # built on first iteration, then kept

    def __len__(self) -> int:
        return len(self._ranked)

    @property
    def slots_given(self) -> int:
        """How many entries were given a slot."""
        return len(self._given) - self._given.count(-1)

    def given_by_group(self) -> Counter:
        """(procedure, tier, weight) -> how many entries of that group were given a slot."""
        groups = zip(
            map(attrgetter("procedure"), self._entries),
            map(attrgetter("tier"), self._entries),
            map(attrgetter("weight"), self._entries),
            strict=True,
        )
        return Counter(compress(groups, map((-1).__ne__, self._given)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = self._ranked[index]
        entry = self._entries[position]
        rank = index + 1 if index >= 0 else len(self) + index + 1
        slot_id = self._slot_ids[self._given[position]]
        return ResultRow(
            rank, entry.entry_id, entry.tier, entry.weight, self._keys[position], slot_id
        )

    def __iter__(self):
        if self._rows is None:
            self._rows = self._build_rows()
        return iter(self._rows)

    def _build_rows(self) -> list[ResultRow]:
        ranked = self._ranked
        with gc_paused():
            columns = [
                map(list(map(attrgetter(field), self._entries)).__getitem__, ranked)
                for field in ("entry_id", "tier", "weight")
            ]
            return list(
                map(
                    ResultRow._make,
                    zip(
                        range(1, len(ranked) + 1),
                        *columns,
                        map(self._keys.__getitem__, ranked),
                        map(self._slot_ids.__getitem__, map(self._given.__getitem__, ranked)),
                        strict=True,
                    ),
                )
            )

    def columns(self) -> ResultColumns:
        """The same results as columns, without a row object per entry (for a million
        entries, building the rows costs about 2.5 s; the columns a fraction of it)."""
        ranked = self._ranked
        with gc_paused():

            def in_rank_order(values: list) -> list:
                return list(map(values.__getitem__, ranked))

            return ResultColumns(
                *(
                    in_rank_order(list(map(attrgetter(field), self._entries)))
                    for field in ("entry_id", "tier", "weight")
                ),
                in_rank_order(self._keys),
                list(map(self._slot_ids.__getitem__, map(self._given.__getitem__, ranked))),
            )

    def __eq__(self, other) -> bool:
        if isinstance(other, Results | list | tuple):
            return len(self) == len(other) and all(map(eq, self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def csv(self) -> bytes:
        """results.csv bytes (identical to ``results_csv(list(self))``)."""
        entries, ranked = self._entries, self._ranked
        digits = [str(d).encode() for d in range(10)]
        slot_text = [slot_id.encode("ascii") for slot_id in self._slot_ids[:-1]]
        slot_text.append(b"")
        with gc_paused():
            # Each row's text after the rank is built in entry order (sequential memory),
            # then gathered once in rank order; the rank prefixes are interleaved, so no
            # per-row concatenation is needed before the final join.
            tails = list(
                map(
                    b",".join,
                    zip(
                        map(str.encode, map(attrgetter("entry_id"), entries)),
                        map(digits.__getitem__, map(attrgetter("tier"), entries)),
                        map(digits.__getitem__, map(attrgetter("weight"), entries)),
                        map(hexlify, self._keys),
                        map(slot_text.__getitem__, self._given),
                        strict=True,
                    ),
                )
            )
            pieces: list[bytes] = [b""] * (2 * len(ranked))
            pieces[0::2] = map(b"\n%d,".__mod__, range(1, len(ranked) + 1))
            pieces[1::2] = map(tails.__getitem__, ranked)
            return b"".join([RESULTS_HEADER.encode(), *pieces, b"\n"])
