"""Benchmark of the FAIRDRAW-1 engine: keys, order and assignment against a hashing floor.

    .venv/bin/python bench/draw.py [--sizes 10000,100000,1000000] [--repeat 3]

Synthetic kits (deterministic): weights 1-4 with mean about 2, tiers 0 and 1, 5 procedures,
3 sites, weekday exclusions, one slot per 10 entries. Each size and repetition runs in a fresh
subprocess that parses the CSV files (as the real draw does), then times each stage; the peak
memory is that process's ru_maxrss. The floor is plain ``hashlib.sha256(m).digest()`` over as
many 40-byte messages as the draw computes HMACs, timed in the same process right after the
draw, so both see the same machine load. Never run as a timed test.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lottery.fairdraw import (  # noqa: E402
    Entry,
    Slot,
    engine,
    entries_csv,
    parse_entries,
    parse_slots,
    slots_csv,
)
from lottery.fairdraw.crypto import ticket_key  # noqa: E402

OUT = REPO / "bench" / "out"
PROCEDURES = (("TS", 40), ("NAT", 20), ("ETU", 15), ("VPF", 15), ("DUP", 10))
SITES = ("P75", "P92", "P93")
WEIGHTS = ((1, 45), (2, 25), (3, 15), (4, 15))  # mean 2.0
GENERATOR_VERSION = 1


def synthetic_kit(size: int) -> tuple[Path, Path]:
    """entries.csv and slots.csv for ``size`` entries, cached in bench/out/."""
    OUT.mkdir(parents=True, exist_ok=True)
    entries_path = OUT / f"entries-{size}-v{GENERATOR_VERSION}.csv"
    slots_path = OUT / f"slots-{size}-v{GENERATOR_VERSION}.csv"
    if entries_path.exists() and slots_path.exists():
        return entries_path, slots_path
    rnd = random.Random(size)
    names, weights = zip(*PROCEDURES, strict=True)
    entries = []
    for i in range(size):
        entry_id = hashlib.sha256(b"bench-%d" % i).hexdigest()[:32]
        roll = rnd.random()
        sites = () if roll < 0.5 else tuple(sorted(rnd.sample(SITES, 1 if roll < 0.8 else 2)))
        days = (
            () if rnd.random() < 0.7 else tuple(sorted(rnd.sample(range(1, 8), rnd.choice((1, 2)))))
        )
        entries.append(
            Entry(
                entry_id,
                0 if rnd.random() < 0.05 else 1,
                rnd.choices(*zip(*WEIGHTS, strict=True))[0],
                rnd.choices(names, weights)[0],
                sites,
                days,
            )
        )
    first_day = datetime.date(2025, 9, 1)
    slots = [
        Slot(
            f"S{n:07d}",
            rnd.choice(SITES),
            rnd.choices(names, weights)[0],
            (first_day + datetime.timedelta(days=rnd.randrange(60))).isoformat(),
            f"{rnd.randrange(8, 17):02d}:{rnd.choice((0, 15, 30, 45)):02d}",
        )
        for n in range(max(1, size // 10))
    ]
    entries_path.write_bytes(entries_csv(entries))
    slots_path.write_bytes(slots_csv(slots))
    return entries_path, slots_path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(entries_path: Path, slots_path: Path) -> dict:
    """One run in this (fresh) process; times in seconds."""
    figures: dict = {}
    started = time.perf_counter()
    entries = parse_entries(entries_path.read_bytes())
    slots = parse_slots(slots_path.read_bytes())
    figures["parse"] = time.perf_counter() - started
    figures["rss_after_parse_mb"] = _rss_mb()
    key = ticket_key(hashlib.sha256(b"bench").digest())
    with engine.gc_paused():
        started = time.perf_counter()
        keys = engine.entry_keys(entries, key)
        figures["keys"] = time.perf_counter() - started
        started = time.perf_counter()
        ranked = engine.order(entries, keys)
        figures["order"] = time.perf_counter() - started
        started = time.perf_counter()
        given = engine.assign(entries, slots, ranked)
        figures["assign"] = time.perf_counter() - started
        started = time.perf_counter()
        data = engine.Results(entries, slots, keys, ranked, given).csv()
        figures["results_csv"] = time.perf_counter() - started
        figures["rss_peak_mb"] = _rss_mb()
        figures["draw"] = figures["keys"] + figures["order"] + figures["assign"]
        figures["hmacs"] = sum(entry.weight for entry in entries)
        figures["floor"] = _floor(entries)
    figures["results_digest"] = hashlib.sha256(data).hexdigest()
    figures["slots_given"] = len(given) - given.count(-1)
    return figures


def _floor(entries) -> float:
    """Plain SHA-256 over as many 40-byte messages as the draw's HMACs."""
    messages = [
        b"\0\0\0\x20" + entry.entry_id.encode() + j.to_bytes(4, "big")
        for entry in entries
        for j in range(1, entry.weight + 1)
    ]
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for message in messages:
        sha256(message).digest()
    return time.perf_counter() - started


def run_child(size: int) -> dict:
    entries_path, slots_path = synthetic_kit(size)
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(entries_path), str(slots_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def report(sizes: list[int], repeat: int) -> None:
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start"
    )
    header = (
        f"{'entries':>9} {'HMACs':>9} {'keys':>6} {'order':>6} {'assign':>6} {'draw':>6} "
        f"{'floor':>6} {'ratio':>5} {'parse':>6} {'csv':>6} "
        f"{'peak MB':>7} {'us/entry':>8}"
    )
    print(header)
    for size in sizes:
        runs = [run_child(size) for _ in range(repeat)]
        digests = {run["results_digest"] for run in runs}
        assert len(digests) == 1, "the draw must be deterministic"
        for run in runs:
            run["ratio"] = run["draw"] / run["floor"]

        def med(name, runs=runs):
            return statistics.median(run[name] for run in runs)

        print(
            f"{size:>9,} {runs[0]['hmacs']:>9,} {med('keys'):>6.2f} {med('order'):>6.2f} "
            f"{med('assign'):>6.2f} {med('draw'):>6.2f} {med('floor'):>6.2f} {med('ratio'):>5.2f} "
            f"{med('parse'):>6.2f} "
            f"{med('results_csv'):>6.2f} {max(run['rss_peak_mb'] for run in runs):>7.0f} "
            f"{1e6 * med('draw') / size:>8.2f}"
        )
    print(
        f"times in seconds, median of {repeat} runs (fresh process each); draw = keys + order +"
        " assign (one core); ratio = draw / floor in the same run; parse = entries.csv +"
        " slots.csv; csv = results.csv bytes; peak MB = ru_maxrss of the run (parse, draw and"
        " csv; before the floor)"
    )
    alone, together = _hashing_scaling()
    print(
        f"two cores? 2M plain SHA-256 take {alone:.2f} s in one process, {together:.2f} s in"
        f" each of two concurrent processes (speed-up {2 * alone / together:.2f} of 2)"
    )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


_HASH_LOOP = (
    "import hashlib, time; m = [b'%040d' % i for i in range(2_000_000)]; s = hashlib.sha256;"
    " t = time.perf_counter(); [s(x).digest() for x in m]; print(time.perf_counter() - t)"
)


def _hashing_scaling() -> tuple[float, float]:
    """Whether a second process adds hashing throughput on this machine."""

    def start():
        return subprocess.Popen([sys.executable, "-c", _HASH_LOOP], stdout=subprocess.PIPE)

    alone = float(start().communicate()[0])
    pair = [start(), start()]
    together = max(float(process.communicate()[0]) for process in pair)
    return alone, together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("ENTRIES", "SLOTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return
    report([int(size) for size in args.sizes.split(",")], args.repeat)


if __name__ == "__main__":
    main()
