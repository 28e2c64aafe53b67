"""The operational endpoints, and one record per request (request id, metrics, a log line)."""

import logging
import time

from django.conf import settings

from config import counters, logs
from ops import health, metrics

logger = logging.getLogger("fairslot.requests")

# Answered before host validation and the HTTPS redirect: a probe or a scraper asks by the
# container's address, over plain HTTP, from inside the network. None of them uses the Host
# header, a session or a cookie; /metrics checks its own token.
OPERATIONAL = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics}
OPERATIONAL_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class OperationalEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = OPERATIONAL.get(request.path_info)
        if view is not None:
            response = view(request)
            # These answers skip the security middleware below, yet a browser may open them:
            # the same headers as every page.
            for header, value in OPERATIONAL_HEADERS.items():
                response.headers.setdefault(header, value)
            if request.is_secure() and settings.SECURE_HSTS_SECONDS:
                response.headers.setdefault(
                    "Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}"
                )
            return response
        return self.get_response(request)


class RequestRecordMiddleware:
    """Gives the request an id (X-Request-ID from the proxy when sane, else a new one) that every
    log line of the request carries and the answer returns; counts the request by route name
    and status; logs one line with the route name, never the path (it can hold a token)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in OPERATIONAL:
            # Probes every few seconds: neither logged nor counted.
            return self.get_response(request)
        token = logs.request_id.set(logs.new_request_id(request.headers.get("X-Request-ID")))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = logs.request_id.get()
            self._record(request, response.status_code, time.perf_counter() - started)
            return response
        finally:
            logs.request_id.reset(token)

    @staticmethod
    def _record(request, status: int, seconds: float) -> None:
        match = request.resolver_match
        route = match.view_name if match else "unmatched"
        method = request.method if request.method in counters.KNOWN_METHODS else "other"
        counters.count_request(route=route, method=method, status=status, seconds=seconds)
        logger.info(
            "%s %s %s",
            method,
            route,
            status,
            extra={"route": route, "method": method, "status": status,
                   "duration_ms": round(seconds * 1000, 1)},
        )  # fmt: skip
