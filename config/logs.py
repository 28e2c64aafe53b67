"""Log records as JSON lines (LOG_FORMAT=json, the image's default) with the request's id.

Personal data never goes to logs: the code logs pseudonymous references only (entry ids, row
ids, route names), and this module keeps out what Django would add by itself: the path of a
refused request (it can hold a receipt token), and the request object attached to its records.
"""

import contextvars
import json
import logging
import logging.config
import re
import time
import uuid

request_id = contextvars.ContextVar("request_id", default="")
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # ops.middleware.OPERATIONAL

# An id a proxy in front gave the request is kept when it looks like one; anything else is
# replaced (a header is client input: it must not carry text into the logs).
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def configure(config: dict) -> None:
    """LOGGING_CONFIG (config.settings), in every process that loads Django: the LOGGING dict,
    and Python's warnings (a library's UserWarning, Celery's start-up warnings) as records of
    the "py.warnings" logger, so that they are written like every other line instead of as
    plain text on stderr (Django no longer captures them)."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def new_request_id(offered: str | None) -> str:
    return offered if offered and _ACCEPTED_ID.fullmatch(offered) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get()
        return True


class WithholdPathFilter(logging.Filter):
    """django.request logs the path of every 4xx and 5xx answer ("Not Found: /receipt/<token>/"):
    the path is replaced (the request id ties the line to its route). The probes' answers are
    not logged at all: a 503 from /readyz every few seconds while a worker is down would drown
    the log and says nothing the readiness answer does not."""

    def filter(self, record):
        request = getattr(record, "request", None)
        if request is None or not isinstance(record.args, tuple):
            return True
        if getattr(request, "path_info", None) in PROBES:
            return False
        paths = {getattr(request, "path", None), getattr(request, "path_info", None)}
        record.args = tuple("<path withheld>" if arg in paths else arg for arg in record.args)
        return True


class JsonFormatter(logging.Formatter):
    # UTC in every process: gunicorn's master loads no Django (hence no TIME_ZONE), and lines
    # from several machines sort the same way whatever their local time.
    converter = time.gmtime

    def format(self, record):
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", ""):
            line["request_id"] = record.request_id
        for field in ("route", "method", "status", "duration_ms"):
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
