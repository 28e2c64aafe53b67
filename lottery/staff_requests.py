"""Staff pages of the four-eyes requests (lottery.four_eyes): agents and supervisors ask,
another supervisor of the prefecture approves or refuses; auditors read. Everything is scoped
to the user's prefecture: another prefecture's request answers 404. Works without JavaScript."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import staff_object_or_404, verified_staff
from accounts.models import Role
from booking.models import Appointment, Entry, Window
from config.errors import DomainError
from lottery import four_eyes
from lottery.forms import DecisionForm, StaffRequestForm
from lottery.models import RequestKind, RequestState, StaffRequest

READERS = {Role.AGENT, Role.SUPERVISOR, Role.AUDITOR}


def _reader(user):
    if user.role not in READERS:
        raise Http404
    return user


@require_http_methods(["GET", "POST"])
@verified_staff
def requests_page(request):
    user = _reader(request.user)
    windows = list(Window.objects.filter(prefecture_id=user.prefecture_id)[:50])
    can_ask = user.role in four_eyes.REQUESTERS
    form = StaffRequestForm(request.POST or None, windows=windows) if can_ask else None
    status = 200
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        status = 400
        if form.is_valid():
            try:
                _ask(user, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, str(error.message))
                status = error.http_status
            else:
                messages.success(request, _("Your request waits for a second supervisor."))
                return redirect("staff-requests")
    return render(request, "lottery/staff/requests.html", _context(user, form), status=status)


def _context(user, form) -> dict:
    mine = StaffRequest.objects.filter(window__prefecture_id=user.prefecture_id).select_related(
        "window", "requested_by", "decided_by", "entry"
    )
    return {
        "title": _("Requests for a second supervisor"),
        "form": form,
        "pending": list(mine.filter(state=RequestState.PENDING)),
        "decided": list(mine.exclude(state=RequestState.PENDING)[:20]),
        "decision_form": DecisionForm() if user.role == Role.SUPERVISOR else None,
    }


def _ask(user, data) -> StaffRequest:
    window = Window.objects.get(prefecture_id=user.prefecture_id, code=data["window"])
    reason, kind = data["reason"], data["kind"]
    if kind == RequestKind.URGENCY:
        entry = _entry(window, data["target"])
        return four_eyes.request_urgency(entry_id=entry.pk, actor=user, reason=reason)
    if kind == RequestKind.CANCELLATION:
        appointment = Appointment.objects.filter(pk=data["target"], slot__window=window).first()
        if appointment is None:
            raise DomainError("unknown", _("No appointment has this number in this window."))
        return four_eyes.request_cancellation(
            appointment_id=appointment.pk, actor=user, reason=reason
        )
    return four_eyes.request_early_close(window_id=window.pk, actor=user, reason=reason)


def _entry(window: Window, reference: str) -> Entry:
    prefix = reference.removeprefix("E-").lower()  # Entry.pseudonym: the entry_id's start
    found = list(Entry.objects.filter(window=window, entry_id__startswith=prefix)[:2])
    if len(found) != 1:
        raise DomainError("unknown", _("No single entry has this reference in this window."))
    return found[0]


@require_POST
@verified_staff
def decide(request, pk: int):
    user = request.user
    # Another prefecture's request looks exactly like a missing one (404).
    staff_request = staff_object_or_404(
        user, StaffRequest.objects.all(), prefecture_path="window__prefecture", roles=READERS, pk=pk
    )
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or refuse."))
        return redirect("staff-requests")
    try:
        four_eyes.decide(
            request_id=staff_request.pk,
            actor=user,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your decision was recorded."))
    return redirect("staff-requests")
