"""Statistical checks T1 to T4 of FAIRDRAW-1, each a chi-square test at p > 0.001.

Simulated draw r uses seed = SHA-256("validation" || u32(r)), then K, keys and order exactly as
in sections 7 and 8. The seeds are fixed, so each test is deterministic: a failure means the
engine changed, not bad luck (the chance that a conforming engine fails one is 0.1 %).
"""

import hashlib
import itertools
from collections import Counter
from functools import cache

import pytest
from scipy.stats import chisquare

from lottery.fairdraw import Entry, entry_keys, ticket_key
from lottery.fairdraw.engine import order

pytestmark = pytest.mark.slow

P_MIN = 0.001


def _entries(weights) -> list[Entry]:
    return [Entry(f"{i:032x}", 1, w, "TS") for i, w in enumerate(weights)]


def _orders(weights, draws: int):
    """The rank order (entry indices) of each simulated draw r = 0 .. draws-1."""
    entries = _entries(weights)
    for r in range(draws):
        seed = hashlib.sha256(b"validation" + r.to_bytes(4, "big")).digest()
        yield tuple(order(entries, entry_keys(entries, ticket_key(seed))))


def _successive_probability(weights, sequence) -> float:
    """P(the first picks are exactly ``sequence``) under weighted sampling without replacement."""
    remaining, p = sum(weights), 1.0
    for i in sequence:
        p *= weights[i] / remaining
        remaining -= weights[i]
    return p


def _chi_square(observed: dict, expected_probability: dict, draws: int) -> float:
    """p-value, merging cells whose expected count is below 5 into one."""
    cells = sorted(expected_probability, key=expected_probability.get)
    obs, exp, small_obs, small_exp = [], [], 0, 0.0
    for cell in cells:
        e = expected_probability[cell] * draws
        if e < 5:
            small_obs, small_exp = small_obs + observed.get(cell, 0), small_exp + e
        else:
            obs.append(observed.get(cell, 0))
            exp.append(e)
    if small_exp:
        obs.append(small_obs)
        exp.append(small_exp)
    assert sum(obs) == draws and abs(sum(exp) - draws) < 1e-6 * draws
    return chisquare(obs, exp).pvalue


def test_t1_full_order_law():
    weights, draws = (1, 2, 3), 60_000
    observed = Counter(_orders(weights, draws))
    expected = {
        perm: _successive_probability(weights, perm) for perm in itertools.permutations(range(3))
    }

    assert len(observed) == 6
    assert _chi_square(observed, expected, draws) > P_MIN


def test_t2_first_pick_proportional_to_weight():
    weights, draws = (1, 2, 3, 4, 1, 2, 3, 4, 1, 2), 100_000
    observed = Counter(ranked[0] for ranked in _orders(weights, draws))
    expected = {i: w / sum(weights) for i, w in enumerate(weights)}

    assert _chi_square(observed, expected, draws) > P_MIN


def test_t3_uniform_permutations():
    draws = 120_000
    observed = Counter(_orders((1, 1, 1, 1, 1), draws))
    expected = dict.fromkeys(itertools.permutations(range(5)), 1 / 120)

    assert len(observed) == 120
    assert _chi_square(observed, expected, draws) > P_MIN


# T4: N = 20 entries, five of each weight 1..4, top k = 5.
T4_CLASS_SIZE, T4_K = 5, 5


@cache
def _composition_probabilities(picked: tuple[int, ...] = (0, 0, 0, 0)) -> dict:
    """P(the top k holds n_w entries of weight w) for each composition (n_1 .. n_4)."""
    if sum(picked) == T4_K:
        return {picked: 1.0}
    left = [(T4_CLASS_SIZE - n) * (w + 1) for w, n in enumerate(picked)]
    total = sum(left)
    result: dict = {}
    for w, mass in enumerate(left):
        if not mass:
            continue
        after = tuple(n + (c == w) for c, n in enumerate(picked))
        for composition, p in _composition_probabilities(after).items():
            result[composition] = result.get(composition, 0.0) + p * mass / total
    return result


def _inclusion_by_weight() -> list[float]:
    """Exact P(a given entry of weight w is in the top k), from the composition law."""
    return [
        sum(p * composition[w] for composition, p in _composition_probabilities().items())
        / T4_CLASS_SIZE
        for w in range(4)
    ]


def test_t4_exact_inclusion_law_is_consistent():
    inclusion = _inclusion_by_weight()

    assert abs(sum(_composition_probabilities().values()) - 1) < 1e-12
    assert abs(T4_CLASS_SIZE * sum(inclusion) - T4_K) < 1e-12
    # Section 8 quotes these for k/N = 25 %: not proportional to the weight.
    assert [round(p, 3) for p in inclusion] == [0.110, 0.210, 0.300, 0.381]


def test_t4_top_k_inclusion():
    weights = [1 + i % 4 for i in range(4 * T4_CLASS_SIZE)]
    draws = 40_000
    observed: Counter = Counter()
    included: Counter = Counter()
    for ranked in _orders(weights, draws):
        top = ranked[:T4_K]
        observed[tuple(sum(weights[i] == w + 1 for i in top) for w in range(4))] += 1
        included.update(top)

    # The joint law of how many of each weight reach the top k: a multinomial chi-square over
    # the compositions (draws are independent), exact probabilities from the recursion above.
    assert _chi_square(observed, _composition_probabilities(), draws) > P_MIN
    # And each entry's inclusion frequency is near its exact probability (4.5 sigma).
    for i, w in enumerate(weights):
        p = _inclusion_by_weight()[w - 1]
        assert abs(included[i] / draws - p) < 4.5 * (p * (1 - p) / draws) ** 0.5
