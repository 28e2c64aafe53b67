"""The API's JSON parser: DRF's, with every malformed body a 400 (parse_error), never a 500."""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The deepest body the API takes is an object holding a list ({"sites": [1, 2]}): depth 2.
# Far above that, far below where Python's recursion limit is reached anywhere downstream.
MAX_DEPTH = 16


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # Python's json module raises RecursionError, not ValueError, on a body nested some
        # thousands deep ([[[[...]]]]), which DRF's parser lets through as a server error.
        # A body just under that limit parses, then every recursive walk of it (validation,
        # the error envelope, rendering) runs near the limit: refused by depth instead.
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("This is not valid JSON.")) from None
        if depth(data) > MAX_DEPTH:
            raise ParseError(_("This is not valid JSON."))
        return data


def depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar: 0), measured without
    recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest
