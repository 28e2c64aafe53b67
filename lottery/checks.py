"""T5-style checks run on every real draw (FAIRDRAW-1, statistical checks).

Under a fair draw, an entry's key mapped through the CDF of "largest of w uniform tickets",
v = (key / 2^256) ** w, is uniform on (0, 1) and independent of everything known before the
seed: registration order, tier, weight. So both checks test v, which makes them exact whatever
the mix of tiers and weights (a raw rank-vs-registration correlation would flag a window where
carried-over, heavier entries happen to register early):
- Spearman rho between v and registration order, |rho| * sqrt(N - 1) below Z_LIMIT;
- for each (tier, weight) group of 30 or more, the mean of v within Z_LIMIT standard errors of 1/2.
Z_LIMIT = 4 gives a false alarm about once in 16,000 tests; a failure holds publication for a
supervisor's review, it does not undo anything.

A draw runs them over a million rows, so the loops are C-level maps over columns (about four
times faster than one Python statement per row); the figures are the same as the plain formulas'.

Informational checks are recorded at the freeze and carried into the draw's report; they never
hold a draw (`with_freeze_checks`).
"""

import math
from collections import Counter, defaultdict
from itertools import compress
from operator import itemgetter, mul

from lottery.fairdraw.engine import ResultColumns

Z_LIMIT = 4.0
MIN_GROUP = 30
_FROM_64_BITS = 2.0**-64  # n * 2^-64 rounds exactly like n / 2^64 (a power of two scales exactly)


def uniformised(key: bytes, weight: int) -> float:
    return (int.from_bytes(key[:8], "big") / 2**64) ** weight


def spearman(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 3:
        return 0.0
    # Both rank vectors are permutations of 0..n-1, so sum (rx - ry)^2 is
    # 2 * sum(i^2) - 2 * sum(rx * ry): one C-level pass instead of a generator of squares.
    by_x, ry = sorted(range(n), key=xs.__getitem__), _ranks(ys)
    cross = sum(map(mul, range(n), map(ry.__getitem__, by_x)))
    d2 = 2 * ((n - 1) * n * (2 * n - 1) // 6) - 2 * cross
    return 1 - 6 * d2 / (n * (n * n - 1))


def _ranks(values: list[float]) -> list[int]:
    ranks = [0] * len(values)
    for position, index in enumerate(sorted(range(len(values)), key=values.__getitem__)):
        ranks[index] = position
    return ranks


def _uniformised_column(keys: list[bytes], weights: list[int]) -> list[float]:
    head = map(int.from_bytes, map(itemgetter(slice(0, 8)), keys))
    scaled = map(_FROM_64_BITS.__mul__, head)
    return list(map(float.__pow__, scaled, map(float, weights)))


def run_checks(columns: ResultColumns, registration_position: dict[str, int]) -> dict:
    """`columns`: the draw's results (`Results.columns()`); `registration_position`: entry_id
    -> 0-based order of registration. Returns a JSON-able report with `passed`."""
    n = len(columns.entry_id)
    v = _uniformised_column(columns.key, columns.weight)
    order = list(map(registration_position.__getitem__, columns.entry_id))
    rho = spearman(v, order)
    z = abs(rho) * math.sqrt(max(n - 1, 0))
    report = {
        "spearman": {"rho": round(rho, 6), "z": round(z, 3), "n": n, "passed": z < Z_LIMIT},
        "groups": [],
    }
    group_of = list(zip(columns.tier, columns.weight, strict=True))
    groups = defaultdict(list)
    for group, value in zip(group_of, v, strict=True):
        groups[group].append(value)
    selected = Counter(compress(group_of, map(_is_given, columns.slot_id)))
    for (tier, weight), values in sorted(groups.items()):
        report["groups"].append(_group_report(tier, weight, values, selected[(tier, weight)]))
    report["passed"] = report["spearman"]["passed"] and all(g["passed"] for g in report["groups"])
    return report


def _is_given(slot_id) -> bool:
    return slot_id is not None


def _group_report(tier: int, weight: int, values: list[float], selected: int) -> dict:
    n = len(values)
    mean = sum(values) / n
    group_z = abs(mean - 0.5) / math.sqrt(1 / 12 / n)
    return {
        "tier": tier,
        "weight": weight,
        "entries": n,
        "selected": selected,
        "share": round(selected / n, 4),
        "mean_v": round(mean, 4),
        "z": round(group_z, 3),
        "tested": n >= MIN_GROUP,
        "passed": n < MIN_GROUP or group_z < Z_LIMIT,
    }


DUPLICATE_FLAGS = "duplicate_flags"


def duplicate_flags_check(unreviewed: int) -> dict:
    """At the freeze: how many likely duplicates (booking's DuplicateFlag) no supervisor had
    reviewed. Informational: a flag refuses nothing, so an unreviewed pair is drawn as it was
    registered; the count shows how far the reviews went."""
    return {DUPLICATE_FLAGS: {"unreviewed_at_freeze": unreviewed, "informational": True}}


def with_freeze_checks(report: dict, at_freeze: dict) -> dict:
    """The draw's report (`run_checks`) with the informational checks recorded at the freeze;
    `passed` is the report's own."""
    return {**(at_freeze or {}), **report}
