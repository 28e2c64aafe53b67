"""The files an applicant downloads for a confirmed appointment: the convocation (one-page A4
PDF, lottery.convocation_pdf) and the calendar entry (.ics, lottery.ics).

The two `*_response` functions only build the answer: who may have it is the caller's to
check (here the applicant's session; elsewhere a signed link). The session views find the
appointment exactly as the convocation page does (applicant_views.my_convocation): one's own,
published, confirmed, else not found. Never cached: the files carry the check-in code."""

from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.views.decorators.cache import never_cache

from booking.models import Appointment
from lottery.applicant_views import own_confirmed
from lottery.convocation_pdf import convocation_pdf
from lottery.ics import appointment_ics


def convocation_pdf_response(appointment: Appointment, language: str) -> HttpResponse:
    filename = f"convocation-{appointment.entry.pseudonym}.pdf"
    return _attachment(convocation_pdf(appointment, language), "application/pdf", filename)


def ics_response(appointment: Appointment, language: str) -> HttpResponse:
    filename = f"rendez-vous-{appointment.entry.pseudonym}.ics"
    body = appointment_ics(appointment, language)
    return _attachment(body, "text/calendar; charset=utf-8", filename)


def _attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    # The pseudonym is ASCII ("E-" and hex digits): the filename needs no quoting rules.
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
def my_convocation_pdf(request, pk: int):
    """The convocation PDF of one's own confirmed appointment, in the page's language."""
    appointment = own_confirmed(request, pk)
    if appointment is None:
        return redirect("my-login")
    return convocation_pdf_response(appointment, translation.get_language())


@never_cache
def my_appointment_ics(request, pk: int):
    """The calendar entry of one's own confirmed appointment, in the page's language."""
    appointment = own_confirmed(request, pk)
    if appointment is None:
        return redirect("my-login")
    return ics_response(appointment, translation.get_language())
