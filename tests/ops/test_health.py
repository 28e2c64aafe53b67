"""/healthz and /readyz, as a load balancer, an orchestrator and an operator see them."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models.functions import Now
from django.test import Client

from ops import health
from ops.models import Heartbeat

pytestmark = pytest.mark.django_db

ROOT = settings.BASE_DIR
# What no readiness answer may reveal: hosts, ports, versions, error texts.
REVEALING = ("127.0.0.1", "localhost", "6379", "5432", "version", "Error", "refused")


@pytest.fixture
def worker_ran():
    health.record_heartbeat(health.WORKER)


def test_healthz_answers_ok_without_any_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_and_readyz_answer_any_host_over_plain_http(settings, worker_ran):
    # A probe asks by the container's address, over HTTP, even when the site redirects to HTTPS.
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST="10.1.2.3:8000")

    statuses = [client.get(path).status_code for path in ("/healthz", "/readyz")]
    page = client.get("/", HTTP_HOST=settings.ALLOWED_HOSTS[0]).status_code

    assert (statuses, page) == ([200, 200], 301)


def test_readyz_is_ok_when_every_part_answers(worker_ran):
    response = Client().get("/readyz")

    expected_redis = "ok" if settings.REDIS_URL else "off"
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "worker": "ok",
            "redis": expected_redis,
            "broker": "ok",
        },
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_fails_when_the_worker_heartbeat_is_older_than_two_minutes(worker_ran):
    Heartbeat.objects.update(at=Now() - timedelta(minutes=2, seconds=5))

    response = Client().get("/readyz")

    body = response.json()
    assert (response.status_code, body["status"], body["checks"]["worker"]) == (
        503,
        "failed",
        "failed",
    )
    assert body["checks"]["database"] == "ok"


def test_readyz_fails_when_no_worker_ever_ran():
    response = Client().get("/readyz")

    assert (response.status_code, response.json()["checks"]["worker"]) == (503, "failed")


def test_heartbeat_task_writes_one_row_on_the_database_clock():
    from ops.tasks import task_heartbeat

    task_heartbeat()
    task_heartbeat()

    assert list(Heartbeat.objects.values_list("name", flat=True)) == ["worker"]
    assert Heartbeat.objects.filter(at__gte=Now() - timedelta(seconds=30)).count() == 1


def test_beat_sends_the_heartbeat_often_enough_for_readyz():
    entry = settings.CELERY_BEAT_SCHEDULE["heartbeat"]

    assert entry["task"] == "ops.tasks.task_heartbeat"
    assert entry["schedule"] * 3 < health.HEARTBEAT_MAX_AGE.total_seconds()


# --- Stores down: a process of its own with the store's address pointing nowhere ----------------

READYZ = """
import django, json
django.setup()
from django.test import Client
response = Client().get("/readyz")
print(json.dumps({"status": response.status_code, "body": response.content.decode()}))
"""


def _readyz_in_a_process(**env_changes) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env_changes}
    result = subprocess.run(
        [sys.executable, "-c", READYZ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_readyz_with_the_database_down_answers_503_and_reveals_nothing():
    answer = _readyz_in_a_process(DATABASE_URL="postgres://fairslot@127.0.0.1:9/fairslot")

    checks = json.loads(answer["body"])["checks"]
    assert answer["status"] == 503
    assert (checks["database"], checks["migrations"], checks["worker"]) == ("failed",) * 3
    assert [word for word in REVEALING if word in answer["body"]] == []


def test_readyz_with_redis_and_the_broker_down_answers_503_and_reveals_nothing(tmp_path):
    answer = _readyz_in_a_process(
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:9/0",
        CELERY_BROKER_URL="redis://127.0.0.1:9/1",
    )

    checks = json.loads(answer["body"])["checks"]
    assert answer["status"] == 503
    assert (checks["redis"], checks["broker"]) == ("failed", "failed")
    assert [word for word in REVEALING if word in answer["body"]] == []
