"""Middleware that guards every request before any view sees it."""

from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _

from config.languages import STAFF_LANGUAGES


class BadInputMiddleware:
    """A NUL byte in the path or the query string, or a query string that is not UTF-8, is
    refused with 400 (config.errors.bad_request) before any view runs.

    Why here and not in each view: PostgreSQL text cannot hold NUL, so any lookup made with such
    a value (a draw code, an entry id, a token) raised DataError, a 500, on six routes; SQLite
    merely found nothing, so the tests did not see it. One check at the door covers every route,
    present and future. Django already re-quotes invalid UTF-8 in the path (the route then
    matches nothing: 404), but decodes a query string with replacement characters, which would
    reach the views as junk: refused here too. Bodies need no such guard: form and serializer
    CharFields refuse NUL themselves (ProhibitNullCharactersValidator).

    A body announced larger than DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before it is
    read: Django checks that size only when it parses a form, and DRF's JSON parser reads the
    stream itself, so a JSON body of any size would otherwise be read whole."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or not _usable_query(request.META.get("QUERY_STRING", "")):
            # Raised, not returned: Django turns BadRequest into handler400's answer.
            raise BadRequest("NUL byte or invalid UTF-8 in the address")
        if _announced_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return _too_large(request)
        return self.get_response(request)


def _announced_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django and DRF read such a body as empty


def _too_large(request):
    message = _("The request is too large.")
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "too_large", "message": message}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


def _usable_query(query: str) -> bool:
    # WSGI hands the query string over as latin-1 text of the raw bytes; '+' is a space.
    raw = unquote_to_bytes(query.encode("latin-1", "replace").replace(b"+", b" "))
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class StaffLanguageMiddleware:
    """Staff pages and the admin are in French or English only (config/languages.py): an agent
    whose browser or session asks for Arabic gets French there, not a page half in English.
    After LocaleMiddleware, which chose the request's language."""

    PREFIXES = ("/staff/", "/admin/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.PREFIXES):
            language = translation.get_language()
            if language not in STAFF_LANGUAGES:
                translation.activate(settings.LANGUAGE_CODE)
                request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return self.get_response(request)
