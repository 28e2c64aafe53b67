"""Direction isolation for the right-to-left pages.

A phone number, a code, an entry number or a digest reads left to right whatever the page's
direction; inside an Arabic sentence the bidirectional algorithm would otherwise reorder its
digits and dashes. A date written in words follows the language it is written in (French words
left to right, Arabic words right to left): it is isolated with the direction of its own text.
"""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def ltr(value):
    """`{{ entry.entry_id|ltr }}`: the value isolated, left to right."""
    return format_html('<bdi dir="ltr">{}</bdi>', value)


@register.filter
def isolated(value):
    """`{{ day|date:"j F Y"|isolated }}`: the value isolated in the direction of its text."""
    return format_html("<bdi>{}</bdi>", value)
