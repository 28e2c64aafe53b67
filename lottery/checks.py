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
"""

import math
from collections import defaultdict

Z_LIMIT = 4.0
MIN_GROUP = 30


def uniformised(key: bytes, weight: int) -> float:
    return (int.from_bytes(key[:8], "big") / 2**64) ** weight


def spearman(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 3:
        return 0.0
    rx, ry = _ranks(xs), _ranks(ys)
    d2 = sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def _ranks(values: list[float]) -> list[int]:
    ranks = [0] * len(values)
    for position, index in enumerate(sorted(range(len(values)), key=values.__getitem__)):
        ranks[index] = position
    return ranks


def run_checks(rows, registration_position: dict[str, int]) -> dict:
    """`rows`: results rows (ResultRow); `registration_position`: entry_id -> 0-based order of
    registration. Returns a JSON-able report with `passed`."""
    v = [uniformised(row.key, row.weight) for row in rows]
    order = [registration_position[row.entry_id] for row in rows]
    rho = spearman(v, order)
    z = abs(rho) * math.sqrt(max(len(rows) - 1, 0))
    report = {
        "spearman": {"rho": round(rho, 6), "z": round(z, 3), "n": len(rows), "passed": z < Z_LIMIT},
        "groups": [],
    }
    groups, selected = defaultdict(list), defaultdict(int)
    for row, value in zip(rows, v, strict=True):
        groups[(row.tier, row.weight)].append(value)
        selected[(row.tier, row.weight)] += row.slot_id is not None
    for (tier, weight), values in sorted(groups.items()):
        n = len(values)
        mean = sum(values) / n
        group_z = abs(mean - 0.5) / math.sqrt(1 / 12 / n)
        report["groups"].append(
            {
                "tier": tier,
                "weight": weight,
                "entries": n,
                "selected": selected[(tier, weight)],
                "share": round(selected[(tier, weight)] / n, 4),
                "mean_v": round(mean, 4),
                "z": round(group_z, 3),
                "tested": n >= MIN_GROUP,
                "passed": n < MIN_GROUP or group_z < Z_LIMIT,
            }
        )
    report["passed"] = report["spearman"]["passed"] and all(g["passed"] for g in report["groups"])
    return report
