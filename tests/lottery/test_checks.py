"""The T5-style checks give the same report from the engine's columns as from its rows."""

import random
from operator import itemgetter

from lottery.checks import run_checks
from lottery.fairdraw import Entry, Slot, draw
from lottery.fairdraw.engine import ResultColumns


def test_report_from_columns_equals_report_from_rows():
    rng = random.Random(5)
    entries = [
        Entry(f"{rng.getrandbits(128):032x}", rng.choice([0, 1, 1, 1]), rng.randint(1, 4), "TS")
        for _ in range(3000)
    ]
    slots = [Slot(f"S{i:04d}", "P75", "TS", "2030-01-07", f"{8 + i // 60:02d}:{i % 60:02d}")
             for i in range(300)]  # fmt: skip
    results = draw(entries, slots, bytes(range(32)))
    positions = {e.entry_id: i for i, e in enumerate(entries)}

    from_columns = run_checks(results.columns(), positions)

    rows = list(results)
    from_rows = ResultColumns(*(list(map(itemgetter(i), rows)) for i in range(1, 6)))
    assert from_columns == run_checks(from_rows, positions)
    assert from_columns["spearman"]["n"] == 3000
    assert sum(g["selected"] for g in from_columns["groups"]) == 300
