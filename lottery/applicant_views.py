"""The applicant's own pages after the draw: their entries with the offers to answer, and the
answer itself (confirm, decline, cancel). Offers are the lottery's; the log-in that opens these
pages is booking's (`booking.views.APPLICANT_KEY` in the session). Never cached."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from booking import receipts
from booking.models import HOLDING_STATES, Appointment, AppointmentState, Entry, WindowState
from booking.views import APPLICANT_KEY
from config.errors import DomainError
from lottery import clock, services_offers
from lottery.convocation import convocation_context

ANSWERED_STATES = [
    AppointmentState.DECLINED,
    AppointmentState.LAPSED,
    AppointmentState.CANCELLED,
]


@never_cache
def my_entries(request):
    contact_id = request.session.get(APPLICANT_KEY)
    if not contact_id:
        return redirect("my-login")
    entries = (
        Entry.objects.filter(contact_id=contact_id)
        .select_related("window", "window__prefecture", "procedure")
        .order_by("-created_at")
    )
    rows = [(entry, receipts.receipt_token(entry)) for entry in entries]
    # Offers to answer, confirmed appointments, and the answered ones (declined, lapsed,
    # cancelled) with their answer: a reload shows what was decided.
    appointments = (
        Appointment.objects.filter(
            entry__contact_id=contact_id,
            state__in=[*HOLDING_STATES, *ANSWERED_STATES],
            entry__window__state=WindowState.PUBLISHED,  # nobody is told before publication
            slot__starts_at__gt=clock.now(),  # past ones need no action any more
        )
        .select_related("entry", "slot__site", "slot__procedure")
        .order_by("slot__starts_at")
    )
    return render(request, "lottery/my_entries.html", {"rows": rows, "appointments": appointments})


@never_cache
@require_http_methods(["GET", "POST"])
def my_appointment(request, pk: int, action: str):
    """Confirm, decline or cancel one's own appointment. GET shows what the action does and asks
    to confirm it (declining and cancelling cannot be undone); POST does it."""
    contact_id = request.session.get(APPLICANT_KEY)
    if not contact_id:
        return redirect("my-login")
    if action not in services_offers.APPLICANT_ACTIONS:
        raise Http404
    service, state = services_offers.APPLICANT_ACTIONS[action]
    appointment = get_object_or_404(
        Appointment.objects.select_related("entry", "slot__site"),
        pk=pk,
        entry__contact_id=contact_id,
        entry__window__state=WindowState.PUBLISHED,
    )
    if request.method == "POST":
        try:
            service(appointment_id=appointment.pk)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, DONE_MESSAGES[action])
        return redirect("my-entries")
    if appointment.state != state:
        messages.error(request, _("This appointment cannot change that way now."))
        return redirect("my-entries")
    return render(
        request, "lottery/my_appointment.html", {"appointment": appointment, "action": action}
    )


@never_cache
def my_convocation(request, pk: int):
    """The convocation of one's own confirmed appointment: when and where, the entry's
    reference, and the check-in code as text (groups of four, to read aloud) and as a QR code
    drawn as inline SVG (lottery.convocation: no script, no image request). Printable. Anyone else's
    appointment, or one not confirmed, is not found."""
    appointment = own_confirmed(request, pk)
    if appointment is None:
        return redirect("my-login")
    return render(request, "lottery/my_convocation.html", convocation_context(appointment))


def own_confirmed(request, pk: int) -> Appointment | None:
    """The session's applicant's own confirmed appointment in a published window (404 for
    anyone else's, or one not confirmed); None without an applicant's session."""
    contact_id = request.session.get(APPLICANT_KEY)
    if not contact_id:
        return None
    return get_object_or_404(
        Appointment.objects.select_related(
            "entry", "slot__site", "slot__procedure", "slot__window__prefecture"
        ),
        pk=pk,
        entry__contact_id=contact_id,
        entry__window__state=WindowState.PUBLISHED,
        state=AppointmentState.CONFIRMED,
    )


DONE_MESSAGES = {
    "accept": _("Your appointment is confirmed. Bring your receipt and your identity papers."),
    "decline": _("You declined the appointment: it goes to the next person on the waiting list."),
    "cancel": _("Your appointment is cancelled: it goes to the next person on the waiting list."),
}
