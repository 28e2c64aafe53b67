"""Structured logs: JSON lines with the request's id, and no path (a receipt token) in them."""

import io
import json
import logging
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from config import logs

pytestmark = pytest.mark.django_db

SECRET = "receipt-token-canary-7K3M9QX2"
GUNICORN = Path(settings.BASE_DIR) / ".venv" / "bin" / "gunicorn"


@pytest.fixture
def json_log():
    """The production handler (config.settings LOGGING with LOG_FORMAT=json) on a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    handler.addFilter(logs.WithholdPathFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_logs_are_json_lines_carrying_the_request_id_and_the_route(json_log):
    response = Client().get("/draws/")

    lines = json_log()
    request_line = next(line for line in lines if line["logger"] == "fairslot.requests")
    assert request_line["request_id"] == response["X-Request-ID"]
    assert (request_line["route"], request_line["method"], request_line["status"]) == (
        "draw-list",
        "GET",
        200,
    )
    assert {"time", "level", "message", "duration_ms"} <= set(request_line)


def test_logs_never_hold_the_path_of_a_refused_request(json_log):
    response = Client().get(f"/receipt/{SECRET}/")

    text = json.dumps(json_log())
    assert response.status_code == 404
    assert SECRET not in text
    assert "<path withheld>" in text


def test_logs_keep_a_sane_request_id_from_the_proxy_and_replace_junk():
    client = Client()

    kept = client.get("/", HTTP_X_REQUEST_ID="lb-4f2a9c1e-77")["X-Request-ID"]
    replaced = client.get("/", HTTP_X_REQUEST_ID="evil\nline injected")["X-Request-ID"]

    assert kept == "lb-4f2a9c1e-77"
    assert len(replaced) == 32 and replaced.isalnum()


def test_logs_outside_a_request_have_no_request_id():
    record = logging.makeLogRecord({"name": "celery.task", "msg": "entry %s drawn", "args": (7,)})
    logs.RequestIdFilter().filter(record)

    line = json.loads(logs.JsonFormatter().format(record))

    assert line["message"] == "entry 7 drawn"
    assert "request_id" not in line


def test_log_times_are_utc_whatever_the_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")  # as far from UTC as a process can be
    time.tzset()
    try:
        record = logging.makeLogRecord({"msg": "beat: Starting...", "created": 0.0})
        line = json.loads(logs.JsonFormatter().format(record))
    finally:
        monkeypatch.undo()
        time.tzset()

    assert line["time"] == "1970-01-01T00:00:00+0000"


def _answer(url: str, timeout: float) -> int:
    """The status of the first answer of a server that is starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # The gunicorn this test started, on 127.0.0.1 over http.
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no answer from {url}")


def _is_a_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_gunicorn_writes_json_lines_only_and_no_access_log(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LOG_FORMAT": "json", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    env.update({"WEB_CONCURRENCY": "1", "FAIRSLOT_VAR_DIR": str(tmp_path)})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [GUNICORN, "--config", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        status = _answer(f"http://127.0.0.1:{port}/nothing-here/{SECRET}/", timeout=30)
    finally:
        web.terminate()
        web.wait(20)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    loggers = {json.loads(line)["logger"] for line in lines if _is_a_json_object(line)}
    assert status == 404
    assert [line for line in lines if not _is_a_json_object(line)] == []
    assert {"gunicorn.error", "fairslot.requests"} <= loggers  # gunicorn's and Django's
    assert "gunicorn.access" not in loggers  # it would print the path
    assert SECRET not in log.read_text()
