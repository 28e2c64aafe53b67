"""Which code made a kit, and where its source and the draw specification are read."""

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from lottery import kit

pytestmark = pytest.mark.django_db

SOURCE = "https://git.example.org/fairslot/-/tree/{version}"


def _git_head() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True
    )
    if done.returncode:
        pytest.skip("not a git checkout")
    return done.stdout.strip()


def test_kit_names_the_commit_that_built_it_and_its_source(anonymous, timeline, settings):
    settings.SOURCE_URL = SOURCE
    life = timeline(entries=3, slots=2)
    head = _git_head()

    response = anonymous.get(reverse("draw-kit", args=[life.window.code]))

    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        version = archive.read(f"{life.window.code}/VERSION").decode()
    assert version == f"fairslot {head}\nsource {SOURCE.format(version=head)}\n"


def test_version_without_git_is_the_setting_then_unknown(settings, monkeypatch):
    monkeypatch.setattr(kit, "_git_commit", lambda: None)  # an image built without .git
    settings.SOURCE_URL = SOURCE

    settings.FAIRSLOT_VERSION = "v2026.12"
    named = (kit.project_version(), kit.source_url(kit.project_version()))
    settings.FAIRSLOT_VERSION = ""
    unnamed = (kit.project_version(), kit.source_url(kit.project_version()))

    assert named == ("v2026.12", "https://git.example.org/fairslot/-/tree/v2026.12")
    assert unnamed == ("unknown", "")  # no link to a tree that does not exist


def test_draw_page_shows_the_command_the_version_and_the_links(
    anonymous, timeline, settings, monkeypatch
):
    monkeypatch.setattr(kit, "_git_commit", lambda: None)
    settings.FAIRSLOT_VERSION, settings.SOURCE_URL = "v2026.12", SOURCE
    life = timeline(entries=3, slots=2)

    page = anonymous.get(reverse("draw-detail", args=[life.window.code])).content.decode()

    assert f"cd {life.window.code}\npython3 replay.py</code>" in page
    assert "<code>v2026.12</code>" in page
    assert 'href="https://git.example.org/fairslot/-/tree/v2026.12"' in page
    assert f'href="{reverse("draw-spec")}"' in page


def test_draw_spec_is_served_as_text_at_a_stable_address(anonymous):
    response = anonymous.get("/draws/spec.md")

    spec = Path(settings.BASE_DIR, "docs", "draw-spec.md").read_bytes()
    assert (response.status_code, response["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert response.content == spec
