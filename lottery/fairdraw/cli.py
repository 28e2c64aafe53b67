"""Command line of FAIRDRAW-1 section 13: ``python -m lottery.fairdraw draw|replay DIR``.

Standard library only (plus drand-verify when the kit has a beacon). Exit status 0 when all
holds, 1 otherwise; a malformed kit is reported as a message, never as a traceback.
``replay_here`` is the same replay as the kit's own ``python3 replay.py`` runs it.
"""

import argparse
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from .beacon import BLS_PACKAGE, QUICKNET_CHAIN_HASH
from .crypto import file_digest
from .errors import FairdrawError
from .kit import (
    BEACON,
    RESULTS,
    SIGNATURE_NOT_CHECKED,
    Check,
    draw_files,
    read_kit,
    replay_files,
    replay_kit,
)
from .kitfiles import parse_beacon

VERSION = "VERSION"  # informative kit file: the software (and source) that built the kit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lottery.fairdraw",
        description="FAIRDRAW-1 draw engine: compute or replay a draw from its kit.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("draw", help="compute results.csv from the kit in DIR")
    run.add_argument("kit", metavar="DIR", help="folder holding the kit files")
    run.add_argument("--force", action="store_true", help="replace a different results.csv")
    check = commands.add_parser("replay", help="check every step of the kit in DIR (or .zip)")
    check.add_argument("kit", metavar="DIR", help="folder (or .zip) holding the kit files")
    args = parser.parse_args(argv)
    try:
        if args.command == "draw":
            return _draw(Path(args.kit), force=args.force)
        return _replay(Path(args.kit))
    except FairdrawError as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"FAIL {error.filename or args.kit}: {error.strerror or error}", file=sys.stderr)
        return 1
    except MemoryError:
        print("FAIL out of memory", file=sys.stderr)
        return 1


def _draw(folder: Path, *, force: bool) -> int:
    if not folder.is_dir():
        raise FairdrawError(f"{folder}: no such folder")
    files = read_kit(folder)
    output = draw_files(files)
    for verdict in output.verdicts:
        print(f"reveal {verdict.party_id}: {verdict.reason}")
    print(f"seed {output.seed.hex()}")
    print(f"ticket_key {output.ticket_key.hex()}")
    target = folder / RESULTS
    previous = files.get(RESULTS)
    if previous is not None and previous != output.results_csv and not force:
        raise FairdrawError(
            f"{target} exists and differs from this draw (digest {output.results_digest.hex()});"
            " not replaced (use --force)"
        )
    target.write_bytes(output.results_csv)
    print(f"results.csv digest {output.results_digest.hex()}")
    return 0


def _replay(path: Path) -> int:
    checks = replay_kit(path)
    for check in checks:
        print(check)
    failures = [check for check in checks if not check.ok]
    if failures:
        print(
            f"REPLAY FAILED ({len(failures)} of {len(checks)} checks); first failure: "
            f"{failures[0].text}"
        )
        return 1
    print(f"REPLAY OK: all {len(checks)} checks hold")
    return 0


def replay_here(argv: list[str] | None, here: str | Path) -> int:
    """``python3 replay.py [DIR]``: the replay that each kit carries (see lottery/standalone.py).

    Replays the kit in DIR (by default ``here``, the folder holding replay.py) as ``replay``
    does, then ends on "identical" and the results digest (exit 0) or on "NOT IDENTICAL" and
    the first failure (exit 1). Without drand-verify the beacon's BLS signature is not checked:
    rather than fail a replay that needs nothing else, the report says so and how to check it.
    """
    parser = argparse.ArgumentParser(
        prog="python3 replay.py",
        description="Replay a FAIRDRAW-1 draw from its kit, with the engine that ran it.",
    )
    parser.add_argument(
        "kit", nargs="?", default=str(here), metavar="DIR", help="the kit (default: this folder)"
    )
    folder = Path(parser.parse_args(argv).kit)
    try:
        files = read_kit(folder)
    except FairdrawError as error:
        print(f"NOT IDENTICAL: {error}")
        return 1
    print(f"Replaying the draw in {folder.resolve()}{_built_by(folder)}")
    checks = replay_files(
        files, check_signature=importlib.util.find_spec("drand_verify") is not None
    )
    for check in checks:
        print(check)
    return _verdict(files, checks)


def _built_by(folder: Path) -> str:
    try:
        lines = (folder / VERSION).read_bytes()[:1000].decode("ascii", "replace").splitlines()
    except OSError:
        return ""
    # Informative and unchecked: printable characters only, so it cannot drive the terminal.
    shown = ["".join(c for c in line if c.isprintable()) for line in lines]
    return f" (kit built by {'; '.join(line for line in shown if line.strip())})"


def _verdict(files: Mapping[str, bytes], checks: list[Check]) -> int:
    failures = [check for check in checks if not check.ok]
    if failures:
        print(f"NOT IDENTICAL: {failures[0].text}")
        for check in checks:
            if check.name.startswith("reveal ") and check.message.startswith("not counted"):
                # Whatever else failed, a secret left out of the seed changes every key.
                print(f"  {check.text}")
        print(f"  ({len(failures)} of {len(checks)} checks failed, marked FAIL above)")
        return 1
    unchecked = any(c.name == BEACON and SIGNATURE_NOT_CHECKED in c.message for c in checks)
    if unchecked:
        print(_signature_note(parse_beacon(files[BEACON]).round))
    caveat = " (but the beacon's signature was not checked: see NOTE)" if unchecked else ""
    print(f"identical: results.csv digest {file_digest(files[RESULTS]).hex()}{caveat}")
    return 0


def _signature_note(beacon_round: int) -> str:
    chain = QUICKNET_CHAIN_HASH.hex()
    return (
        "NOTE: the beacon's BLS signature was NOT checked, because the drand-verify package is not"
        " installed.\n"
        "  Every other check ran, taking the signature in beacon.json as given. To check it:\n"
        f"  - python3 -m pip install {BLS_PACKAGE}, then run python3 replay.py again; or\n"
        f"  - fetch round {beacon_round} of drand quicknet, whose chain hash announcement.json "
        "pins, from any relay:\n"
        f"      https://api.drand.sh/{chain}/public/{beacon_round}\n"
        f"      https://drand.cloudflare.com/{chain}/public/{beacon_round}\n"
        '    its "signature" and "randomness" must be those in beacon.json.'
    )
