"""The draw specification at a stable public address, from docs/draw-spec.md as deployed."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET

SPEC = settings.BASE_DIR / "docs" / "draw-spec.md"


@require_GET
def draw_spec(request):
    """The Markdown text as text/plain: browsers show it, where text/markdown is downloaded."""
    response = HttpResponse(SPEC.read_bytes(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="draw-spec.md"'
    return response
