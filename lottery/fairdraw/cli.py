"""Command line of FAIRDRAW-1 section 13: ``python -m lottery.fairdraw draw|replay DIR``.

Standard library only (plus drand-verify when the kit has a beacon). Exit status 0 when all
holds, 1 otherwise; a malformed kit is reported as a message, never as a traceback.
"""

import argparse
import sys
from pathlib import Path

from .errors import FairdrawError
from .kit import RESULTS, draw_files, read_kit, replay_kit


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
