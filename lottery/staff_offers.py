"""The answer to an offer given for a person without a phone or e-mail: at the counter by an
agent or supervisor of the prefecture, or by the helper who registered their entry
(services_offers.answer_offer_for_person). GET shows the offer and asks; POST answers. Then the
person's convocation, to print for them (they have no "My entries" page). Another prefecture's
appointment, or one a helper did not register, answers 404."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods
from dsfr.forms import DsfrBaseForm

from accounts.access import staff_object_or_404, verified_staff
from accounts.models import Role
from booking.checkin_token import local_day
from booking.models import Appointment, AppointmentState
from config.errors import DomainError
from lottery import services_offers
from lottery.convocation import convocation_context

ROLES = frozenset({*services_offers.ANSWERING_ROLES, Role.HELPER})


class AnswerForm(DsfrBaseForm):
    answer = forms.ChoiceField(
        choices=[("accept", _("Accept")), ("decline", _("Decline"))], widget=forms.HiddenInput
    )


def _appointment(user, pk: int, **lookup) -> Appointment:
    """The appointment, if `user` may answer for its person: an agent or supervisor of its
    prefecture, or the helper who registered its entry; 404 otherwise."""
    queryset = Appointment.objects.select_related(
        "entry", "slot__site", "slot__procedure", "slot__window"
    )
    if user.role == Role.HELPER:
        queryset = queryset.filter(entry__registered_by=user)
    return staff_object_or_404(
        user, queryset, prefecture_path="slot__window__prefecture", roles=ROLES, pk=pk, **lookup
    )


@verified_staff
@require_http_methods(["GET", "POST"])
def answer_offer(request, pk: int):
    appointment = _appointment(request.user, pk)
    error, status = None, 200
    if request.method == "POST":
        form = AnswerForm(request.POST)
        if not form.is_valid():
            error, status = _("Choose to accept or to decline the offer."), 400
        else:
            answer = form.cleaned_data["answer"]
            try:
                services_offers.answer_offer_for_person(
                    appointment_id=appointment.pk, answer=answer, actor=request.user
                )
            except DomainError as exc:
                error, status = exc.message, exc.http_status
            else:
                messages.success(request, DONE[answer] % {"ref": appointment.entry.pseudonym})
                if answer == "accept":
                    return redirect("staff-appointment-convocation", appointment.pk)
                if request.user.role == Role.HELPER:
                    return redirect("staff-helper-entries")
                return redirect(
                    "staff-day", appointment.slot.site.code, local_day(appointment).isoformat()
                )
    may_answer = (
        appointment.state == AppointmentState.OFFERED and appointment.entry.contact_id is None
    )
    return render(
        request,
        "lottery/staff/answer_offer.html",
        {"appointment": appointment, "may_answer": may_answer, "error": error},
        status=status,
    )


@verified_staff
@require_GET
def print_convocation(request, pk: int):
    """The convocation of a confirmed appointment of a person without a phone or e-mail, to
    print and hand to them."""
    appointment = _appointment(
        request.user, pk, state=AppointmentState.CONFIRMED, entry__contact__isnull=True
    )
    return render(request, "lottery/staff/convocation.html", convocation_context(appointment))


DONE = {
    "accept": _("The appointment of %(ref)s is confirmed: print their convocation."),
    "decline": _("The offer of %(ref)s is declined: it goes to the next person."),
}
