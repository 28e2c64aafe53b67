"""The replay kit of FAIRDRAW-1 section 13, built from a Draw record, and served as a .zip.

Every file is a pure function of the stored record and of the code's version (same record and
release, same bytes, same zip), so a kit downloaded twice is identical. `verify_kit` runs the
engine's own replay in process; the auditor's tool is the kit's own `replay.py` (the engine in one
file, see lottery/standalone.py), which needs Python 3.10+ and nothing else, beside a VERSION
file naming the code that built it.
"""

import functools
import hashlib
import io
import json
import re
import subprocess
import zipfile

from django.conf import settings
from django.db import transaction

from lottery import beacon, blobs, services_offers, standalone
from lottery.fairdraw.kit import replay_files
from lottery.models import BeaconMode, Draw, DrawKit, DrawState

SOFTWARE = "fairslot lottery (FAIRDRAW-1)"
# The large files (up to about 110 MB): name -> (binary field of Draw, field of its digest).
LARGE_FILES = {
    "entries.csv": ("entries_csv", "entries_digest"),
    "slots.csv": ("slots_csv", "slots_digest"),
    "results.csv": ("results_csv", "results_digest"),
}


def utc(moment) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(beacon.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def announcement(draw: Draw) -> dict:
    from lottery.services import entry_rules

    window = draw.window
    beacon_info = None
    if draw.beacon_mode == BeaconMode.QUICKNET:
        beacon_info = {
            "chain_hash": beacon.CHAIN_HASH,
            "public_key": beacon.PUBLIC_KEY,
            "scheme": beacon.SCHEME,
            "round": draw.beacon_round,
            "round_time": utc(beacon.round_time(draw.beacon_round)),
            "fallback": "if round R cannot be obtained within 7 days after its scheduled time, "
            "chain_hash = empty, R = 0, beacon_randomness = empty (FAIRDRAW-1 section 5)",
        }
    return {
        "spec": "FAIRDRAW-1",
        "draw_id": window.code,
        "announced_at": utc(draw.announced_at),
        "parties": [
            {"party_id": p.party_id, "commitment": p.commitment, "operator": p.is_operator}
            for p in draw.parties.order_by("party_id")
        ],
        "beacon": beacon_info,
        "schedule": {
            "registration_opens": utc(window.opens_at),
            "registration_closes": utc(window.closes_at),
            "freeze": utc(window.freeze_at),
            "reveal_deadline": utc(window.reveal_deadline),
        },
        "rules": entry_rules(window),
        "offers": {
            "offer_hours": window.offer_hours,
            "cancel_cutoff_hours": window.cancel_cutoff_hours,
        },
        "software": SOFTWARE,
    }


def kit_file_names(draw: Draw, *, unpublished: bool = False) -> list[str]:
    """The names of the files `kit_files` gives, without reading any of them."""
    return sorted(_file_builders(draw, unpublished))


def kit_files(
    draw: Draw, *, unpublished: bool = False, only: set[str] | None = None
) -> dict[str, bytes]:
    """The files published so far for this draw, by name. Results (and events.log) appear
    once the draw is published, unless `unpublished` (the service's own checks, a review).
    `only`: build just these (a page serving one file need not read the others)."""
    builders = _file_builders(draw, unpublished)
    return {name: build() for name, build in sorted(builders.items()) if not only or name in only}


def _file_builders(draw: Draw, unpublished: bool) -> dict:
    """Name -> function building that file's bytes, for the files published so far."""
    builders = {"announcement.json": lambda: _json(announcement(draw))}
    if draw.frozen_at is None:
        return builders
    builders["entries.csv"] = _large(draw, "entries.csv")
    builders["slots.csv"] = _large(draw, "slots.csv")
    builders["freeze.json"] = lambda: _json(
        {
            "entries_digest": draw.entries_digest,
            "slots_digest": draw.slots_digest,
            "published_at": utc(draw.frozen_at),
        }
    )
    builders["reveals.json"] = lambda: _json(
        {
            p.party_id: {"secret": p.secret or None, "revealed_at": utc(p.revealed_at)}
            for p in draw.parties.order_by("party_id")
        }
    )
    if draw.drawn_at is None or not (unpublished or draw.state == DrawState.PUBLISHED):
        return builders
    if draw.beacon_source:
        # After the section 5 fallback, null signature and randomness claim it: the replay
        # then seeds without a beacon, as the draw did, instead of finding beacon.json missing.
        builders["beacon.json"] = lambda: _json(
            {
                "round": draw.beacon_round,
                "signature": draw.beacon_signature or None,
                "randomness": draw.beacon_randomness or None,
            }
        )
    builders["results.csv"] = _large(draw, "results.csv")
    if draw.events.exists():
        builders["events.log"] = lambda: (
            "\n".join(draw.events.order_by("seq").values_list("line", flat=True)) + "\n"
        ).encode("ascii")
    return builders


def kit_zip(draw: Draw) -> bytes:
    """The kit as a zip holding one folder named after the draw_id (fixed timestamps): the
    draw's files, replay.py and VERSION."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted({**kit_files(draw), **tool_files()}.items()):
            info = zipfile.ZipInfo(f"{draw.window.code}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _large(draw: Draw, name: str):
    return lambda: blobs.read(draw, LARGE_FILES[name][0])[0]


def kit_key(draw: Draw) -> str:
    """What the kit holds now, as a digest: the small files' bytes, the large files' digests and
    the events.log head (its line count and last line's hash). Any change gives another key."""
    digest = hashlib.sha256()
    for name, build in sorted(_file_builders(draw, unpublished=False).items()):
        if name == "events.log":
            seq, head = services_offers.event_log_head(draw)
            content = f"{seq}:{head}".encode("ascii")
        elif name in LARGE_FILES:
            content = getattr(draw, LARGE_FILES[name][1]).encode("ascii")
        else:
            content = build()
        digest.update(f"{name}\0{len(content)}\0".encode("ascii") + content)
    for name, content in sorted(tool_files().items()):  # a new release makes a new kit
        digest.update(f"{name}\0{len(content)}\0".encode("ascii") + content)
    return digest.hexdigest()


def tool_files() -> dict[str, bytes]:
    """The files a kit carries besides the draw's: replay.py, and VERSION naming the code."""
    version = project_version()
    lines = [f"fairslot {version}"]
    if url := source_url(version):
        lines.append(f"source {url}")
    return {"replay.py": _replay_py(), "VERSION": ("\n".join(lines) + "\n").encode()}


@functools.cache
def _replay_py() -> bytes:
    # Once per process, like the engine modules that this process imported and runs.
    return standalone.replay_py()


def project_version() -> str:
    """The version that kits and draw pages name: the git commit of this checkout, else the
    FAIRSLOT_VERSION setting (an image built without .git), else "unknown"."""
    return _git_commit() or settings.FAIRSLOT_VERSION or "unknown"


@functools.cache
def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hangs
        return None
    commit = done.stdout.strip()
    ok = done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit)
    return commit if ok else None


def source_url(version: str) -> str:
    """Where to read the source of `version`: SOURCE_URL with "{version}" replaced; "" when no
    SOURCE_URL is set, or when it names a version that is unknown."""
    url = settings.SOURCE_URL or ""
    if "{version}" in url and version == "unknown":
        return ""
    return url.replace("{version}", version)


def current_kit(draw: Draw, key: str) -> DrawKit | None:
    """The stored kit for this key, without its bytes."""
    return DrawKit.objects.filter(draw=draw, key=key).defer("zip").first()


def store_kit(draw: Draw, key: str) -> DrawKit:
    """Build the kit for `key` and keep it as the draw's only kit (a concurrent build of the
    same key keeps one row)."""
    data = kit_zip(draw)
    with transaction.atomic():
        DrawKit.objects.filter(draw=draw).exclude(key=key).delete()
        stored, created = DrawKit.objects.get_or_create(
            draw=draw, key=key, defaults={"zip": b"", "size": len(data)}
        )
        if created:
            blobs.write(stored, zip=data)  # in binary (see lottery.blobs)
    return current_kit(draw, key)


def verify_kit(files: dict[str, bytes]) -> list[str]:
    """Run the engine's replay (auditor steps 1-4 and 6) on kit files; return its report lines,
    or raise ValueError naming the first failed check."""
    checks = replay_files(files)
    failed = [check for check in checks if not check.ok]
    if failed:
        raise ValueError(str(failed[0]))
    return [str(check) for check in checks]
