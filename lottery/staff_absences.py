"""The day list's "mark absent" button (booking.staff_desk renders the list): an agent or a
supervisor of the appointment's prefecture, after its time. An absence is an events.log line,
hence lottery's. Another prefecture's appointment answers 404."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.access import staff_object_or_404, verified_staff
from booking.checkin_token import local_day
from booking.models import Appointment
from booking.staff_desk import render_day
from config.errors import DomainError
from lottery import absences


@verified_staff
@require_POST
def mark_absent(request, pk: int):
    appointment = staff_object_or_404(
        request.user,
        Appointment.objects.select_related("entry", "slot__site", "slot__window"),
        prefecture_path="slot__window__prefecture",
        roles=absences.ABSENCE_ROLES,
        pk=pk,
    )
    site, day = appointment.slot.site, local_day(appointment)
    try:
        absences.record_absence(appointment_id=appointment.pk, actor=request.user)
    except DomainError as exc:
        return render_day(request, site, day, status=exc.http_status, error=exc.message)
    messages.success(
        request,
        _("%(reference)s is recorded absent.") % {"reference": appointment.entry.pseudonym},
    )
    return redirect("staff-day", site.code, day.isoformat())
