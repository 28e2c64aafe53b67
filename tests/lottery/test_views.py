"""The public page and the replay kit downloaded from it."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from booking.models import Appointment
from lottery import kit, services_offers
from lottery.models import Draw, DrawKit
from lottery.tasks import task_build_kit
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db

REPLAY_CLI = Path(settings.BASE_DIR) / "lottery" / "fairdraw" / "__main__.py"


@pytest.fixture
def published(timeline):
    life = timeline(entries=30, slots=10)
    life.run_all()
    return life


def _download_kit(client, life, tmp_path) -> Path:
    response = client.get(reverse("draw-kit", args=[life.window.code]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as archive:
        archive.extractall(tmp_path)
    return tmp_path / life.window.code


def test_public_page_shows_the_record_without_login(anonymous, published):
    response = anonymous.get(reverse("draw-detail", args=[published.window.code]),
                             headers={"accept-language": "en"})  # fmt: skip

    draw = Draw.objects.get(window=published.window)
    page = response.content.decode()
    assert response.status_code == 200
    for public in (
        draw.seed,
        draw.entries_digest,
        draw.slots_digest,
        draw.results_digest,
        draw.parties.get().commitment,
        draw.parties.get().secret,
        "L311-3-1",
        "python3 replay.py",
        published.entries[0].entry_id,
    ):
        assert public in page
    assert "This draw uses no public beacon" in page


def test_public_page_holds_nothing_that_identifies_a_person(anonymous, published):
    page = anonymous.get(reverse("draw-detail", args=[published.window.code])).content.decode()

    for entry in published.entries:
        assert entry.person.family_name not in page
        assert entry.person.identifier not in page
    assert "Canary" not in page


def test_public_page_paginates_results(anonymous, timeline):
    life = timeline(entries=130, slots=5)
    life.run_all()

    second = anonymous.get(reverse("draw-detail", args=[life.window.code]), {"page": 2})

    lines = kit.kit_files(Draw.objects.get(window=life.window))["results.csv"].decode()
    expected = [line.split(",") for line in lines.splitlines()[101:131]]
    assert second.content.decode().count("<tr><td>1") >= 1
    assert second.context["page"].number == 2
    assert second.context["page"].object_list == expected  # ranks 101-130, read by range
    assert expected[0][0] == "101" and len(expected) == 30
    beyond = anonymous.get(reverse("draw-detail", args=[life.window.code]), {"page": "x"})
    assert beyond.context["page"].number == 1


def test_announced_draw_page_shows_commitment_but_no_secret(anonymous, timeline):
    life = timeline()
    draw = Draw.objects.get(window=life.window)
    from lottery.models import OperatorSecret

    secret = OperatorSecret.objects.get(party__draw=draw).secret

    page = anonymous.get(reverse("draw-detail", args=[life.window.code])).content.decode()

    assert draw.parties.get().commitment in page
    assert secret not in page
    assert secret.encode() not in kit.kit_zip(draw)


def test_downloaded_kit_replays_in_process(client, published, tmp_path):
    folder = _download_kit(client, published, tmp_path)

    files = {path.name: path.read_bytes() for path in folder.iterdir()}

    assert sorted(files) == [
        "VERSION",
        "announcement.json",
        "entries.csv",
        "freeze.json",
        "replay.py",
        "results.csv",
        "reveals.json",
        "slots.csv",
    ]
    assert_replays(files)


@pytest.mark.skipif(
    not REPLAY_CLI.exists(),
    reason="the engine's replay CLI (lottery/fairdraw/__main__.py) is not shipped",
)
def test_downloaded_kit_replays_with_the_fairdraw_cli(client, published, tmp_path):
    folder = _download_kit(client, published, tmp_path)

    replay = subprocess.run(
        [sys.executable, "-m", "lottery.fairdraw", "replay", str(folder)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_kit_is_built_once_per_state_of_its_files(client, published):
    url = reverse("draw-kit", args=[published.window.code])
    draw = Draw.objects.get(window=published.window)

    first = client.get(url)
    assert first.getvalue() == kit.kit_zip(draw) == client.get(url).getvalue()
    assert int(first["Content-Length"]) == len(kit.kit_zip(draw))
    assert DrawKit.objects.filter(draw=draw).count() == 1

    offer = Appointment.objects.filter(slot__window=published.window).order_by("pk").first()
    services_offers.decline_offer(appointment_id=offer.pk)  # events.log grows: a new kit

    after = client.get(url).getvalue()
    with zipfile.ZipFile(io.BytesIO(after)) as archive:
        events = archive.read(f"{published.window.code}/events.log").decode()
    assert after == kit.kit_zip(draw) and ",decline," in events
    assert DrawKit.objects.filter(draw=draw).count() == 1  # the older kit is gone


def test_a_large_kit_is_built_by_one_task_while_the_page_says_to_come_back(
    client, published, monkeypatch
):
    monkeypatch.setattr("lottery.views.KIT_INLINE_ENTRIES", 0)
    queued = []
    monkeypatch.setattr("lottery.views.task_build_kit.delay", queued.append)
    url = reverse("draw-kit", args=[published.window.code])

    waiting = [client.get(url), client.get(url)]

    assert [r.status_code for r in waiting] == [503, 503]
    assert waiting[0]["Retry-After"] == "60"
    assert f'href="{url}"' in waiting[0].content.decode()  # "come back and try again"
    assert queued == [published.window.id]  # one build for both requests
    assert task_build_kit(published.window.id) > 0
    ready = client.get(url)
    assert ready.status_code == 200
    assert ready.getvalue() == kit.kit_zip(Draw.objects.get(window=published.window))


def test_single_file_download(anonymous, published):
    response = anonymous.get(reverse("draw-file", args=[published.window.code, "results.csv"]))

    results = bytes(Draw.objects.get(window=published.window).results_csv)
    assert response.getvalue() == results
    assert int(response["Content-Length"]) == len(results)
    missing = anonymous.get(reverse("draw-file", args=[published.window.code, "secret.txt"]))
    assert missing.status_code == 404


def test_held_draw_shows_no_results_until_reviewed(anonymous, timeline, monkeypatch):
    life = timeline()
    monkeypatch.setattr(
        "lottery.services_run.run_checks",
        lambda rows, positions: {"passed": False, "spearman": {}, "groups": []},
    )
    life.close_and_freeze()
    life.reveal_operator()
    life.draw()

    response = anonymous.get(reverse("draw-detail", args=[life.window.code]),
                             headers={"accept-language": "en"})  # fmt: skip

    assert response.context["page"] is None
    assert "waits for a supervisor" in response.content.decode()
    assert "results.csv" not in kit.kit_files(Draw.objects.get(window=life.window))


def test_published_statistics_count_slots_given_by_procedure_tier_and_weight(anonymous, timeline):
    from collections import Counter

    life = timeline(entries=30, slots=8)
    life.run_all()
    draw = Draw.objects.get(window=life.window)
    files = kit.kit_files(draw)
    entries = [line.split(",") for line in files["entries.csv"].decode().splitlines()[1:]]
    procedure_of = {row[0]: row[3] for row in entries}
    results = [line.split(",") for line in files["results.csv"].decode().splitlines()[1:]]
    expected = Counter(
        (procedure_of[row[1]], int(row[2]), int(row[3])) for row in results if row[5]
    )

    given = {(g["procedure"], g["tier"], g["weight"]): g["given"] for g in draw.counts["groups"]}

    assert {group: n for group, n in given.items() if n} == dict(expected)
    assert draw.counts["given"] == sum(expected.values()) == 8
    page = anonymous.get(reverse("draw-detail", args=[life.window.code])).content.decode()
    for group in draw.counts["groups"]:
        cells = [group[key] for key in ("procedure", "tier", "weight", "entries", "given")]
        assert "".join(f"<td>{cell}</td>" for cell in cells) in page
