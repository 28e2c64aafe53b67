"""The one domain exception type, and its mapping to HTTP for the API.

Services raise `DomainError(code, message)`; `code` is stable (clients switch on it) and the
message is translatable, rendered in the request's language by the handler.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.defaults import bad_request as page_bad_request
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST
    field: str | None = None  # the input field at fault, when there is one (FieldError)

    def __init__(self, code: str, message, *, http_status: int | None = None, retry_after=None):
        super().__init__(code)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        if http_status is not None:
            self.http_status = http_status


class Conflict(DomainError):
    http_status = status.HTTP_409_CONFLICT


class Forbidden(DomainError):
    """The actor's role or prefecture does not allow this action."""

    http_status = status.HTTP_403_FORBIDDEN


class Throttled(DomainError):
    http_status = status.HTTP_429_TOO_MANY_REQUESTS


class Busy(DomainError):
    """A lock could not be taken in time; the client should retry shortly."""

    http_status = status.HTTP_503_SERVICE_UNAVAILABLE


class RequestTooLarge(APIException):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django raises RequestDataTooBig)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request is too large.")
    default_code = "too_large"


def api_exception_handler(exc, context):
    """Every error answer of the API in one envelope, whatever raised it: `{"code", "message"}`,
    plus `"fields": {name: [messages]}` when the error names fields. `code` is stable (clients
    switch on it); messages are in the request's language. Validation errors are always
    `invalid`, even when the input has a field named "code"."""
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _envelope(response.data, invalid=isinstance(exc, ValidationError))
    return response


def _domain_response(exc: DomainError) -> Response:
    body = {"code": exc.code, "message": str(exc.message)}
    if exc.field:
        body["fields"] = {exc.field: [body["message"]]}
    response = Response(body, status=exc.http_status)
    if exc.retry_after:
        response["Retry-After"] = str(int(exc.retry_after))
    return response


def _envelope(data, *, invalid: bool) -> dict:
    """The envelope for DRF's error `data`: `{"detail": ErrorDetail}` for an exception, or
    a validation error's details (a dict by field, possibly nested, or a list of messages)."""
    if not invalid and isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        return {"code": getattr(detail, "code", None) or "error", "message": str(detail)}
    fields: dict[str, list[str]] = {}
    for name, message in _flatten(data):
        fields.setdefault(name, []).append(message)
    general = fields.pop("", []) + fields.pop(api_settings.NON_FIELD_ERRORS_KEY, [])
    message = " ".join(general) or str(_("The request is not valid."))
    return {"code": "invalid", "message": message, **({"fields": fields} if fields else {})}


def _flatten(detail, name: str = ""):
    """(field, message) pairs; a nested field is named by its path: `sites.0`."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, f"{name}.{key}" if name else str(key))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            nested = isinstance(item, dict)  # a list serializer's errors, one dict per item
            yield from _flatten(
                item, (f"{name}.{index}" if name else str(index)) if nested else name
            )
    else:
        yield name, str(detail)


def api_not_found(request, exception):
    """handler404: an unknown address under /api/ answers in the API's envelope, pages with
    Django's page."""
    if request.path.startswith("/api/"):
        body = {"code": "not_found", "message": str(NotFound.default_detail)}
        return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)


def bad_request(request, exception):
    """handler400 (a BadRequest or SuspiciousOperation raised outside DRF, such as a NUL byte in
    the address, config.middleware): the API's envelope under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"code": "bad_request", "message": str(_("The request is not valid."))}
        return JsonResponse(body, status=status.HTTP_400_BAD_REQUEST)
    return page_bad_request(request, exception)
