"""Structured logs: JSON lines with the request's id, and no path (a receipt token) in them."""

import io
import json
import logging

import pytest
from django.test import Client

from config import logs

pytestmark = pytest.mark.django_db

SECRET = "receipt-token-canary-7K3M9QX2"


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
