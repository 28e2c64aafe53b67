"""The API's JSON parser: DRF's, with every malformed body a 400 (parse_error), never a 500."""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # Python's json module raises RecursionError, not ValueError, on a body nested some
        # thousands deep ([[[[...]]]]), which DRF's parser lets through as a server error.
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("This is not valid JSON.")) from None
