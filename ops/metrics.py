"""Prometheus metrics at /metrics, behind a bearer token (METRICS_TOKEN; unset: 404).

Two sources, chosen so that every figure is right whatever the number of processes:
- Events counted where they happen, in the web processes (requests by route and status, codes
  sent and refused with the reason): prometheus-client counters (config.counters). Under
  gunicorn each worker is a process of its own, so with PROMETHEUS_MULTIPROC_DIR set (the image
  sets it) they write to files there, summed at each scrape: prometheus-client's multiprocess
  mode (config/gunicorn.conf.py empties the folder at start and marks exited workers dead).
  Each web container is its own scrape target; Prometheus sums them.
- State, read at scrape time from PostgreSQL, Redis and the broker, which every process shares:
  the SMS budget left, the outbox backlog and its oldest message, the Celery queue depth, entries
  by status (registrations), appointments by state (offers pending, check-ins), the last draw's
  duration. Nothing of it is kept in a process, so nothing is lost when one restarts or counted
  twice when two run.
"""

import logging
import os

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from config.counters import EVENTS, LAST_DRAW_SECONDS_KEY

logger = logging.getLogger(__name__)


@never_cache
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        # No token set: the endpoint does not exist. Answered here, not by raising Http404:
        # this view runs before host validation, which the 404 page would then trip.
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    offered = request.META.get("HTTP_AUTHORIZATION", "")
    if not constant_time_compare(offered, f"Bearer {token}"):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    state = CollectorRegistry()
    state.register(StateCollector())
    body = generate_latest(_events()) + generate_latest(state)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _events() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return EVENTS  # one process (runserver, tests): its own counters are the whole count
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class StateCollector:
    """Gauges read at scrape time from the stores every process shares. A store that does not
    answer leaves its gauges out (and is logged): the scrape itself still succeeds."""

    def collect(self):
        for read in (_sms_budget, _outbox, _queue_depth, _entries, _appointments, _last_draw):
            try:
                yield from read()
            except Exception as exc:  # a scrape never fails for one store
                logger.warning("metrics: %s unavailable: %s", read.__name__, type(exc).__name__)


def _gauge(name: str, documentation: str, labels=(), samples=()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in samples:
        family.add_metric(list(label_values), value)
    return family


def _sms_budget():
    from accounts import ratelimit, sms_budget

    # France (+33): the domestic rules, without a foreign country's own cap.
    whole = sms_budget.rules(country_code=33, verified=True)[0]
    new_contacts = sms_budget.rules(country_code=33, verified=False)[0]
    yield _gauge(
        "fairslot_sms_budget_remaining",
        "SMS that may still be sent over the moving 24 hours: all, and to new contacts.",
        ["part"],
        [
            (["all"], ratelimit.remaining(whole)),
            (["new_contacts"], ratelimit.remaining(new_contacts)),
        ],
    )
    yield _gauge(
        "fairslot_sms_budget_daily", "The SMS budget over 24 hours.", (), [([], whole.limit)]
    )


def _outbox():
    from accounts.models import OutboxMessage, OutboxState

    waiting = OutboxMessage.objects.filter(state__in=[OutboxState.PENDING, OutboxState.SENDING])
    by_channel = waiting.values("channel").annotate(n=Count("id")).order_by("channel")
    yield _gauge(
        "fairslot_outbox_backlog",
        "Messages waiting in the outbox (pending or being sent), by channel.",
        ["channel"],
        [([row["channel"]], row["n"]) for row in by_channel],
    )
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0
    yield _gauge(
        "fairslot_outbox_oldest_age_seconds",
        "Age of the oldest message waiting in the outbox (0: none waits).",
        (),
        [([], max(0.0, age))],
    )
    failed = OutboxMessage.objects.filter(state__in=[OutboxState.FAILED, OutboxState.EXPIRED])
    by_state = failed.values("state").annotate(n=Count("id")).order_by("state")
    yield _gauge(
        "fairslot_outbox_undelivered",
        "Messages given up (failed or expired) still in the outbox, by state.",
        ["state"],
        [([row["state"]], row["n"]) for row in by_state],
    )


def _queue_depth():
    from config.celery import app

    queue = app.conf.task_default_queue
    # Declared as Celery declares it (durable): a queue no task has reached yet counts 0 instead
    # of failing the passive declaration, as it did on a fresh broker.
    with app.connection_for_read() as connection:
        declared = connection.default_channel.queue_declare(
            queue=queue, durable=True, auto_delete=False
        )
    yield _gauge(
        "fairslot_celery_queue_depth",
        "Tasks waiting in the broker's queue, by queue.",
        ["queue"],
        [([queue], declared.message_count)],
    )


def _entries():
    from booking.models import Entry

    rows = Entry.objects.values("status").annotate(n=Count("id")).order_by("status")
    yield _gauge(
        "fairslot_entries",
        "Entries by status (registrations: registered, selected, waiting, ...).",
        ["status"],
        [([row["status"]], row["n"]) for row in rows],
    )


def _appointments():
    from booking.models import Appointment

    rows = Appointment.objects.values("state").annotate(n=Count("id")).order_by("state")
    yield _gauge(
        "fairslot_appointments",
        "Appointments by state (offered: offers pending; checked_in: check-ins).",
        ["state"],
        [([row["state"]], row["n"]) for row in rows],
    )


def _last_draw():
    seconds = cache.get(LAST_DRAW_SECONDS_KEY)
    if seconds is not None:
        yield _gauge(
            "fairslot_last_draw_duration_seconds",
            "How long the last draw run took in its worker.",
            (),
            [([], seconds)],
        )
