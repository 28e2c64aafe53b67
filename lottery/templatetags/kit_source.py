"""The version of this code and where its source is read, for the draw pages' "Replay kit"."""

from django import template

from lottery import kit

register = template.Library()


@register.simple_tag
def kit_version() -> str:
    """The version that the kits name in their VERSION file."""
    return kit.project_version()


@register.simple_tag
def kit_source_url() -> str:
    """The source of that version ("" when SOURCE_URL is not set)."""
    return kit.source_url(kit.project_version())
