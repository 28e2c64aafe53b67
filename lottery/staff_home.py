"""The staff home (/staff/): today's check-ins and absences per site, the prefecture's windows,
each with its pages one click away, and what waits for someone (four-eyes requests, likely
duplicates, draws held for review)."""

from django.db.models import Count, F, Q
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import STAFF_ROLES, verified_staff
from booking import checkin, day_list
from booking.models import Window
from lottery.models import DrawState, RequestState, StaffRequest


@require_GET
@verified_staff
def staff_home(request):
    user = request.user
    if user.role not in STAFF_ROLES or user.prefecture_id is None:
        raise Http404
    windows = (
        Window.objects.filter(prefecture_id=user.prefecture_id)
        # The draw's state only: a Draw row carries its files (up to 110 MB).
        .annotate(draw_state=F("draw__state"), flags=Count("entries__duplicate_flags",
                              filter=Q(entries__duplicate_flags__decided_at__isnull=True)))
        .order_by("-opens_at")[:20]
    )  # fmt: skip
    pending = StaffRequest.objects.filter(
        window__prefecture_id=user.prefecture_id, state=RequestState.PENDING
    ).count()
    today = checkin.today()
    return render(
        request,
        "lottery/staff/home.html",
        {
            "title": user.prefecture.name,
            "today": today,
            "sites_today": day_list.day_totals_by_site(user.prefecture_id, today),
            "windows": windows,
            "pending_requests": pending,
            "held": DrawState.HELD,
            "draw_states": dict(DrawState.choices),
        },
    )
