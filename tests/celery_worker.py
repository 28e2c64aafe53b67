"""A real Celery worker for the tests that need Celery's own behaviour (PostgreSQL + Redis):
started as a process on a queue of the test's own, on the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def dsn() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def transport_options(queue: str) -> dict:
    # A key prefix of its own keeps this test's queue and unacked set apart from anything
    # else on the shared Redis database (the short visibility timeout would otherwise
    # redeliver other workers' messages); the sweep runs every second.
    return {"global_keyprefix": f"{queue}:", "visibility_timeout": 3,
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1}  # fmt: skip


WORKER = """
import sys
from config.celery import app
app.conf.broker_transport_options = {options!r}
app.worker_main(["worker", "-Q", {queue!r}, "-c", "1", "--without-heartbeat",
                 "--without-mingle", "--without-gossip", "-l", "info"])
"""


def start_worker(queue: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({"DATABASE_URL": dsn(), "DB_LOCK_TIMEOUT_MS": "120000",
                "CELERY_TASK_ALWAYS_EAGER": "0"})  # fmt: skip
    code = WORKER.format(options=transport_options(queue), queue=queue)
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True,
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def forget(queue: str) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(broker.scan_iter(f"{queue}*"))
    if keys:
        broker.delete(*keys)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")
