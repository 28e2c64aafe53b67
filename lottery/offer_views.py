"""The offer page behind the signed link of an offer's message (lottery.offer_links): the
person sees the appointment (when, where, with a map link, the procedure, what to bring),
confirms or declines it without a new one-time code, and once confirmed downloads the
convocation and the calendar entry. The link opens nothing after the offer's deadline.

The page speaks the person's language (`Contact.language`) unless they chose one on this
browser (the language cookie). Never cached: it shows a live state.
"""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from booking.models import AppointmentState, WindowState
from config.errors import DomainError
from lottery import applicant_files, clock, offer_links, services_offers

LINK_ACTIONS = ("accept", "decline")
DONE = {
    "accept": _("Your appointment is confirmed. You can download your convocation below."),
    "decline": _("You declined the appointment: it goes to the next person on the waiting list."),
}


def _offer(request, token: str):
    """The appointment of a genuine, live link in a published window, or None; activates the
    person's language when this browser has not chosen one."""
    appointment = offer_links.read(token, clock.now())
    if appointment is None or appointment.slot.window.state != WindowState.PUBLISHED:
        return None
    contact = appointment.entry.contact
    if contact is not None and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(contact.language)
        request.LANGUAGE_CODE = contact.language
    return appointment


def _invalid(request):
    return render(request, "lottery/offer_invalid.html", status=404)


@never_cache
def offer(request, token: str):
    appointment = _offer(request, token)
    if appointment is None:
        return _invalid(request)
    return render(request, "lottery/offer.html", {"appointment": appointment, "token": token})


@never_cache
@require_http_methods(["GET", "POST"])
def offer_answer(request, token: str, action: str):
    """GET asks to confirm a decline (it cannot be undone); POST answers."""
    appointment = _offer(request, token)
    if appointment is None or action not in LINK_ACTIONS:
        return _invalid(request)
    if request.method == "GET":
        if action != "decline" or appointment.state != AppointmentState.OFFERED:
            return redirect("offer", token)
        return render(
            request, "lottery/offer_decline.html", {"appointment": appointment, "token": token}
        )
    service, _state = services_offers.APPLICANT_ACTIONS[action]
    try:
        service(appointment_id=appointment.pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, DONE[action])
    return redirect("offer", token)


def _confirmed(request, token: str):
    appointment = _offer(request, token)
    if appointment is None or appointment.state != AppointmentState.CONFIRMED:
        return None
    return appointment


@never_cache
def offer_convocation_pdf(request, token: str):
    appointment = _confirmed(request, token)
    if appointment is None:
        return _invalid(request)
    return applicant_files.convocation_pdf_response(appointment, translation.get_language())


@never_cache
def offer_ics(request, token: str):
    appointment = _confirmed(request, token)
    if appointment is None:
        return _invalid(request)
    return applicant_files.ics_response(appointment, translation.get_language())
