"""Events counted where they happen (prometheus-client counters), scraped by ops.metrics.

A module with no project import, so that any app can count without depending on ops. Under
gunicorn, with PROMETHEUS_MULTIPROC_DIR set, each worker process writes its counts to files there
and the scrape sums them (see ops.metrics).
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

# Counters live in a registry of our own: the default one would add the Python version and
# process details, which the scrape does not need.
EVENTS = CollectorRegistry()
REQUESTS = Counter(
    "fairslot_http_requests",
    "HTTP requests answered, by route name (not path: no tokens, bounded labels) and status.",
    ["route", "method", "status"],
    registry=EVENTS,
)
REQUEST_SECONDS = Histogram(
    "fairslot_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name.",
    ["route"],
    registry=EVENTS,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CODES_SENT = Counter(
    "fairslot_codes_sent",
    "One-time codes put in the outbox (delivered at least once from there), by channel.",
    ["channel"],
    registry=EVENTS,
)
CODES_REFUSED = Counter(
    "fairslot_codes_refused",
    "One-time codes refused, by reason (the API's error code: sms_budget, throttled, ...).",
    ["reason"],
    registry=EVENTS,
)

# Written by the worker that ran the last draw (lottery.tasks), read by ops.metrics: the cache
# is Redis, shared by every process, in production.
LAST_DRAW_SECONDS_KEY = "fairslot:metrics:last-draw-seconds"
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def count_request(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)
