"""Staff page of a window's capacity: its live counts (entries by procedure, channel and tier,
flags waiting for review, slots against demand) and slots generated from a template, previewed
before anything is saved. Agents and supervisors of the window's prefecture; auditors read.
Works without JavaScript: the preview is a POST that saves nothing, the creation a second one.
"""

import re
from datetime import time
from itertools import pairwise

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from dsfr.forms import DsfrBaseForm

from accounts.access import STAFF_ROLES, staff_object_or_404, verified_staff
from accounts.models import Role
from booking import capacity
from booking.models import ACTIVE_ENTRY_STATUSES, DuplicateFlag, Entry, Site, Slot, Window
from config.errors import DomainError

PERIOD = re.compile(r"^\s*(\d{1,2})[:h](\d{2})\s*-\s*(\d{1,2})[:h](\d{2})\s*$")
WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]
PLANNERS = {Role.AGENT, Role.SUPERVISOR}


class TemplateForm(DsfrBaseForm):
    site = forms.TypedChoiceField(label=_("Site"), coerce=int)
    procedure = forms.TypedChoiceField(label=_("Procedure"), coerce=int)
    first_day = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Open weekdays"), choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    periods = forms.CharField(
        label=_("Opening hours"),
        max_length=200,
        help_text=_("Periods separated by commas; the gaps are breaks. Example: 09:00-12:00, "
                    "13:30-16:30"),
    )  # fmt: skip
    minutes = forms.IntegerField(label=_("Length of one appointment (minutes)"), min_value=5,
                                 max_value=240)  # fmt: skip
    desks = forms.IntegerField(label=_("Desks open at the same time"), min_value=1, max_value=30)
    calendar = forms.ChoiceField(label=_("Public holidays of"), choices=capacity.CALENDARS.items())

    def __init__(self, *args, window: Window, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = window
        sites = Site.objects.filter(prefecture_id=window.prefecture_id)
        self.fields["site"].choices = [(s.pk, f"{s.name} ({s.code})") for s in sites]
        self.fields["procedure"].choices = [(p.pk, p.name) for p in window.procedures.all()]

    def clean_periods(self):
        periods = []
        for part in self.cleaned_data["periods"].split(","):
            found = PERIOD.match(part)
            if not found:
                raise forms.ValidationError(_("Write each period as 09:00-12:00."))
            h1, m1, h2, m2 = map(int, found.groups())
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) >= (h2, m2):
                raise forms.ValidationError(_("A period must end after it starts, within a day."))
            periods.append((time(h1, m1), time(h2, m2)))
        periods.sort()
        if any(a[1] > b[0] for a, b in pairwise(periods)):
            raise forms.ValidationError(_("The periods overlap."))
        return tuple(periods)

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and not 0 <= (last - first).days < capacity.MAX_DAYS:
            self.add_error(
                "last_day",
                _("The last day must be after the first, and at most %(days)s days later.")
                % {"days": capacity.MAX_DAYS},
            )
        return data

    def template(self) -> capacity.Template:
        data = self.cleaned_data
        site = Site.objects.get(pk=data["site"], prefecture_id=self.window.prefecture_id)
        return capacity.Template(
            site_id=site.pk,
            site_code=site.code,
            procedure_id=data["procedure"],
            first_day=data["first_day"],
            last_day=data["last_day"],
            weekdays=frozenset(data["weekdays"]),
            periods=data["periods"],
            minutes=data["minutes"],
            desks=data["desks"],
            calendar=data["calendar"],
        )


@require_http_methods(["GET", "POST"])
@verified_staff
def window_capacity(request, code: str):
    window = staff_object_or_404(
        request.user, Window.objects.all(), prefecture_path="prefecture", roles=STAFF_ROLES,
        code=code,
    )  # fmt: skip
    can_plan = request.user.role in PLANNERS
    form = TemplateForm(request.POST or None, window=window) if can_plan else None
    context, status = {}, 200
    if request.method == "POST":
        if form is None:
            return render(
                request, "booking/staff/capacity.html", _context(window, None), status=403
            )
        status = 400
        if form.is_valid():
            template = form.template()
            if "create" in request.POST:
                try:
                    added = capacity.generate_slots(
                        window_id=window.pk, template=template, actor=request.user
                    )
                except DomainError as error:
                    form.add_error(None, str(error.message))
                    status = error.http_status
                else:
                    messages.success(request, _("%(n)s slots were added.") % {"n": added})
                    return redirect("staff-window-capacity", code=window.code)
            else:
                planned = capacity.plan(template)
                context = {
                    "preview": capacity.totals_per_day(planned),
                    "preview_total": len(planned),
                    "closed_days": capacity.closed_days(template),
                }
                status = 200
    return render(
        request, "booking/staff/capacity.html", {**_context(window, form), **context}, status=status
    )


def _context(window: Window, form) -> dict:
    entries = Entry.objects.filter(window=window, status__in=ACTIVE_ENTRY_STATUSES)
    demand = dict(entries.values_list("procedure__name").annotate(n=Count("id")))
    supply = dict(
        Slot.objects.filter(window=window).values_list("procedure__name").annotate(n=Count("id"))
    )
    return {
        "title": window.title,
        "window": window,
        "form": form,
        "by_group": list(
            entries.values("procedure__name", "channel", "tier")
            .annotate(n=Count("id"))
            .order_by("procedure__name", "channel", "tier")
        ),
        "flags_waiting": DuplicateFlag.objects.filter(
            entry__window=window, decided_at__isnull=True
        ).count(),
        "capacity": [
            (name, supply.get(name, 0), demand.get(name, 0))
            for name in sorted(set(supply) | set(demand))
        ],
        "slots_per_day": list(
            Slot.objects.filter(window=window)
            .values_list("starts_at__date", "site__name")
            .annotate(n=Count("id"))
            .order_by("starts_at__date", "site__name")[:120]
        ),
    }
