"""Staff pages of the desk: a site's day list and its CSV export (agents, supervisors and
auditors of the site's prefecture), and check-in (agents and supervisors): the convocation's
code typed, or scanned by a small optional script, the person's identity shown to compare with
their papers (an audited read), then "present". Work without JavaScript. The absence button of
the day list posts to lottery (an absence is an events.log line): booking names its URL only.
"""

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from dsfr.forms import DsfrBaseForm

from accounts.access import STAFF_ROLES, staff_object_or_404, verified_staff
from booking import checkin, day_list
from booking.checkin_token import PARIS
from booking.models import AppointmentState, Site
from config.errors import DomainError

DESK_KEY = "checkin_desk"  # the agent's desk, remembered in their session between check-ins


def _staff(user, roles):
    """The user, if they hold one of `roles` in a prefecture; otherwise 404 (as for objects)."""
    if getattr(user, "role", "") not in roles or user.prefecture_id is None:
        raise Http404
    return user


def _site(user, code: str) -> Site:
    return staff_object_or_404(
        user, Site.objects.all(), prefecture_path="prefecture", roles=STAFF_ROLES, code=code
    )


def _day(text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise Http404


# --- The day list -------------------------------------------------------------------------------


class DayPickForm(DsfrBaseForm):
    site = forms.ChoiceField(label=_("Site"))
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(site.code, f"{site.name} ({site.code})") for site in sites]


@verified_staff
@require_GET
def day_pick(request):
    user = _staff(request.user, STAFF_ROLES)
    sites = list(Site.objects.filter(prefecture_id=user.prefecture_id).order_by("code"))
    initial = {"day": checkin.today(), "site": sites[0].code if sites else None}
    form = DayPickForm(request.GET or None, sites=sites, initial=initial)
    if form.is_valid():
        chosen = form.cleaned_data
        return redirect("staff-day", chosen["site"], chosen["day"].isoformat())
    return render(request, "booking/staff/day_pick.html", {"title": _("Day list"), "form": form})


def render_day(request, site: Site, day: date, *, status: int = 200, error=None):
    """The day list of `site` (also answered, with `error`, by a refused absence)."""
    today = checkin.today()
    context = {
        "title": _("Day list"),
        "site": site,
        "day": day,
        "rows": day_list.day_rows(site, day, today),
        "previous_day": (day - timedelta(days=1)).isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
        "is_today": day == today,
        "may_mark_absent": request.user.role in checkin.DESK_ROLES,
        "now": timezone.now(),
        "confirmed": AppointmentState.CONFIRMED,
        "error": error,
    }
    return render(request, "booking/staff/day.html", context, status=status)


@verified_staff
@require_GET
def day(request, site_code: str, day: str):
    return render_day(request, _site(request.user, site_code), _day(day))


@verified_staff
@require_GET
def day_export(request, site_code: str, day: str):
    site, when = _site(request.user, site_code), _day(day)
    rows = day_list.day_rows(site, when, checkin.today())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{site.code}-{when.isoformat()}.csv"'
    response.write("\ufeff")  # so that spreadsheets read the accents as UTF-8
    response.write(day_list.day_csv(rows))
    return response


# --- Check-in ----------------------------------------------------------------------------------


class CheckinForm(DsfrBaseForm):
    desk = forms.RegexField(
        label=_("Your desk"),
        regex=checkin.DESK_RE,
        max_length=20,
        error_messages={"invalid": checkin.DESK_MESSAGE},
    )
    code = forms.CharField(
        label=_("Code of the convocation"),
        max_length=40,
        help_text=_("24 letters and digits, as printed under the QR code; dashes and spaces "
                    "may be left out."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                   "autofocus": True}
        ),
    )  # fmt: skip


class PresentForm(CheckinForm):
    """The identity page's "present": the code and desk just read, sent back unchanged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget = forms.HiddenInput()


def _render_checkin(request, form, *, status: int = 200, refusal=None):
    context = {"title": _("Check-in"), "form": form, "refusal": refusal}
    return render(request, "booking/staff/checkin.html", context, status=status)


@verified_staff
@require_http_methods(["GET", "POST"])
def checkin_page(request):
    """The code typed (or filled in by the scan script); a valid one shows the identity."""
    user = _staff(request.user, checkin.DESK_ROLES)
    if request.method == "GET":
        form = CheckinForm(initial={"desk": request.session.get(DESK_KEY)})
        return _render_checkin(request, form)
    form = CheckinForm(request.POST)
    if not form.is_valid():
        return _render_checkin(request, form, status=400)
    desk, code = form.cleaned_data["desk"], form.cleaned_data["code"]
    request.session[DESK_KEY] = desk
    try:
        appointment = checkin.read_for_checkin(text=code, actor=user, desk=desk)
    except DomainError as refusal:
        fresh = CheckinForm(initial={"desk": desk})
        return _render_checkin(request, fresh, status=refusal.http_status, refusal=refusal)
    context = {
        "title": _("Check-in"),
        "appointment": appointment,
        "person": appointment.entry.person,
        "local_time": appointment.slot.starts_at.astimezone(PARIS),
        "form": PresentForm(initial={"desk": desk, "code": code}),
    }
    return render(request, "booking/staff/checkin_identity.html", context)


@verified_staff
@require_POST
def checkin_present(request):
    user = _staff(request.user, checkin.DESK_ROLES)
    form = PresentForm(request.POST)
    if not form.is_valid():
        return _render_checkin(request, CheckinForm(request.POST), status=400)
    desk = form.cleaned_data["desk"]
    try:
        appointment = checkin.check_in_with_code(
            text=form.cleaned_data["code"], actor=user, desk=desk
        )
    except DomainError as refusal:
        fresh = CheckinForm(initial={"desk": desk})
        return _render_checkin(request, fresh, status=refusal.http_status, refusal=refusal)
    messages.success(
        request,
        _("%(reference)s is checked in at desk %(desk)s, %(time)s.")
        % {
            "reference": appointment.entry.pseudonym,
            "desk": desk,
            "time": appointment.checked_in_at.astimezone(PARIS).strftime("%H:%M"),
        },
    )
    return redirect("staff-checkin")
