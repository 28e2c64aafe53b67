"""The kit's own replay.py: downloaded with each demo kit, run by a bare interpreter in a folder
that holds nothing but the unzipped kit, as an auditor without this project would run it."""

import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from booking.models import Appointment
from lottery import services_offers, standalone
from lottery.fairdraw import QUICKNET_CHAIN_HASH
from lottery.management.commands import load_demo_draw, load_demo_offers
from lottery.models import Draw

pytestmark = pytest.mark.django_db

DEMOS = {load_demo_draw.CODE: "load_demo_draw", load_demo_offers.CODE: "load_demo_offers"}
ENGINE = Path(settings.BASE_DIR) / "lottery" / "fairdraw"


def _unzipped_demo_kit(client, code: str, tmp_path: Path) -> Path:
    """Load a demo draw, download its kit as the page links it, unzip it into an empty folder."""
    call_command("load_demo", stdout=io.StringIO())
    call_command(DEMOS[code], stdout=io.StringIO())
    return _download_and_unzip(client, code, tmp_path)


def _unzipped_kit_with_a_re_offer(client, timeline, tmp_path: Path) -> Path:
    """A small published draw whose first offer was declined and re-offered: its kit has an
    events.log (the demo kits have none)."""
    life = timeline(entries=12, slots=4)
    life.run_all()
    declined = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank")[0]
    services_offers.decline_offer(appointment_id=declined.pk)
    return _download_and_unzip(client, life.window.code, tmp_path)


def _download_and_unzip(client, code: str, tmp_path: Path) -> Path:
    """The kit as the draw page links it, unzipped into an empty folder: its draw's folder."""
    response = client.get(reverse("draw-kit", args=[code]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        archive.extractall(tmp_path / "download")
    return tmp_path / "download" / code


def _run(folder: Path, *flags: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python3 replay.py`` in ``folder``: isolated (-I), so neither this project, the current
    folder nor PYTHONPATH is on the path; the environment keeps only PATH and the locale."""
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "LANG", "LC_ALL")}
    return subprocess.run(
        [python, "-I", *flags, "replay.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _last_line(done: subprocess.CompletedProcess) -> str:
    return done.stdout.strip().splitlines()[-1]


def _python310() -> str | None:
    # .ci/run sets PYTHON310 to pyenv's 3.10 when the machine has one.
    python = os.environ.get("PYTHON310") or shutil.which("python3.10")
    if python is None:
        return None
    probe = subprocess.run([python, "-c", "pass"], capture_output=True, check=False)
    return python if probe.returncode == 0 else None  # a pyenv shim of an inactive version


@pytest.mark.parametrize("code", sorted(DEMOS))
def test_demo_kit_replays_identical_with_a_bare_interpreter(client, tmp_path, code):
    folder = _unzipped_demo_kit(client, code, tmp_path)

    done = _run(folder)

    digest = Draw.objects.get(window__code=code).results_digest
    assert (done.returncode, done.stderr) == (0, "")
    assert _last_line(done) == f"identical: results.csv digest {digest}"
    assert "FAIL" not in done.stdout
    assert not (folder / "__pycache__").exists()  # the folder is left as it was unzipped


def test_demo_kit_checks_the_beacon_signature_when_drand_verify_is_installed(client, tmp_path):
    folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)

    done = _run(folder)

    assert done.returncode == 0
    assert f"OK   beacon.json: round {load_demo_draw.ROUND}: BLS signature valid" in done.stdout


def test_demo_kit_without_drand_verify_says_the_signature_was_not_checked(client, tmp_path):
    folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)

    done = _run(folder, "-S")  # no site-packages: drand-verify cannot be imported

    chain = QUICKNET_CHAIN_HASH.hex()
    assert done.returncode == 0
    assert _last_line(done).startswith("identical: results.csv digest ")
    assert "the beacon's BLS signature was NOT checked" in done.stdout
    assert "pip install drand-verify" in done.stdout
    assert f"https://api.drand.sh/{chain}/public/{load_demo_draw.ROUND}" in done.stdout


def test_demo_kit_with_one_byte_of_entries_changed_is_refused_naming_the_file(client, tmp_path):
    folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)
    entries = bytearray((folder / "entries.csv").read_bytes())
    tier = entries.index(b"\n") + 1 + 33  # line 2: 32 hex digits of entry_id, a comma, the tier
    entries[tier] = ord("1") if entries[tier] == ord("0") else ord("0")
    (folder / "entries.csv").write_bytes(entries)

    done = _run(folder)

    assert done.returncode == 1
    assert re.search(
        r"^NOT IDENTICAL: .*H\(entries\.csv\) = \w+, but freeze\.json", done.stdout, re.M
    )


def test_demo_kit_with_one_reveal_changed_is_refused_naming_the_reveal(client, tmp_path):
    folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)
    reveals = (folder / "reveals.json").read_text()
    party, first = re.search(
        r'"(\w+)": \{\s*"revealed_at": "[^"]+",\s*"secret": "(.)', reveals
    ).groups()
    changed = "0" if first != "0" else "1"
    (folder / "reveals.json").write_text(
        reveals.replace(f'"secret": "{first}', f'"secret": "{changed}', 1)
    )

    done = _run(folder)

    assert done.returncode == 1
    assert "NOT IDENTICAL: results.csv: differs from the recomputed draw: line 2 is" in done.stdout
    assert f"  reveal {party}: not counted: the secret does not match the commitment" in done.stdout


def test_kit_with_a_re_offer_replays_its_events_log_with_a_bare_interpreter(
    client, timeline, tmp_path
):
    folder = _unzipped_kit_with_a_re_offer(client, timeline, tmp_path)

    done = _run(folder)

    assert done.returncode == 0
    assert "OK   events.log chain: 2 lines, hash chain intact" in done.stdout
    assert "OK   events.log offers: 1 offers, each to the best-ranked eligible" in done.stdout
    assert _last_line(done).startswith("identical: results.csv digest ")


@pytest.mark.skipif(_python310() is None, reason="no python3.10 on PATH")
@pytest.mark.parametrize("kit_with", ["beacon", "events.log"])
def test_kit_replays_identical_on_python_3_10(client, timeline, tmp_path, kit_with):
    if kit_with == "beacon":
        folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)
    else:
        folder = _unzipped_kit_with_a_re_offer(client, timeline, tmp_path)

    done = _run(folder, python=_python310())

    assert done.returncode == 0
    assert _last_line(done).startswith("identical: results.csv digest ")


def test_replay_py_in_the_kit_is_the_engine_byte_for_byte(client, tmp_path):
    folder = _unzipped_demo_kit(client, load_demo_draw.CODE, tmp_path)
    carried = (folder / "replay.py").read_bytes()

    regenerated = standalone.replay_py()
    embedded = standalone.embedded_sources(carried)

    assert carried == regenerated
    assert embedded == {path.name: path.read_bytes() for path in ENGINE.glob("*.py")}
    assert {"engine.py", "crypto.py", "kit.py", "cli.py"} <= set(embedded)
