"""The one domain exception type, and its mapping to HTTP for the API.

Services raise `DomainError(code, message)`; `code` is stable (clients switch on it) and the
message is translatable, rendered in the request's language by the handler.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message, *, http_status: int | None = None, retry_after=None):
        super().__init__(code)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        if http_status is not None:
            self.http_status = http_status


class Conflict(DomainError):
    http_status = status.HTTP_409_CONFLICT


class Throttled(DomainError):
    http_status = status.HTTP_429_TOO_MANY_REQUESTS


class Busy(DomainError):
    """A lock could not be taken in time; the client should retry shortly."""

    http_status = status.HTTP_503_SERVICE_UNAVAILABLE


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response({"code": exc.code, "message": str(exc.message)}, status=exc.http_status)
        if exc.retry_after:
            response["Retry-After"] = str(int(exc.retry_after))
        return response
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        detail = response.data.get("detail")
        code = getattr(detail, "code", None) or (
            "invalid" if response.status_code == 400 else "error"
        )
        message = str(detail) if detail is not None else str(_("The request is not valid."))
        fields = {k: v for k, v in response.data.items() if k != "detail"}
        response.data = {"code": code, "message": message, **({"fields": fields} if fields else {})}
    return response
