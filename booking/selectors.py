"""Read queries reused by pages and the API."""

from django.db.models import Prefetch
from django.db.models.functions import Now

from booking.models import Procedure, Window, WindowState


def open_windows():
    """Windows accepting entries right now, by database time."""
    return (
        Window.objects.filter(state=WindowState.OPEN, opens_at__lte=Now(), closes_at__gt=Now())
        .select_related("prefecture")
        .prefetch_related(Prefetch("procedures", queryset=Procedure.objects.order_by("name")))
        .order_by("closes_at")
    )


def recent_windows():
    return (
        Window.objects.filter(state__in=[WindowState.DRAWN, WindowState.PUBLISHED])
        .select_related("prefecture")
        .order_by("-closes_at")[:10]
    )
