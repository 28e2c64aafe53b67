"""Public pages (server-rendered, DSFR, no JavaScript needed)."""

from django.shortcuts import render

from booking import selectors


def home(request):
    return render(
        request,
        "booking/home.html",
        {
            "open_windows": selectors.open_windows(),
            "recent_windows": selectors.recent_windows(),
        },
    )


def accessibility(request):
    return render(request, "booking/accessibility.html")
