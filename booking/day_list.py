"""The day list of a site: its appointments of one day (Europe/Paris), with their status, and
the day's CSV export. No identity on it: entries appear by their pseudonym (the identity is read
at check-in only, audited). One query whatever the number of appointments.

Status, in the words agents use: to come (confirmed, or an offer still unanswered), present
(checked in today), seen (checked in on a day now over: nothing records the end of an
appointment, so a past day's check-ins count as seen), absent (no_show), cancelled.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from booking.checkin_token import PARIS
from booking.models import HOLDING_STATES, Appointment, AppointmentState, Site

LISTED_STATES = [*HOLDING_STATES, AppointmentState.CANCELLED]
STATUS_LABELS = {
    "to_come": _("To come"),
    "offered": _("To come (offer not confirmed)"),
    "present": _("Present"),
    "seen": _("Seen"),
    "absent": _("Absent"),
    "cancelled": _("Cancelled"),
}
# A spreadsheet reads a cell starting with one of these as a formula (or as the start of one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class DayRow:
    appointment: Appointment
    status: str

    @property
    def status_label(self):
        return STATUS_LABELS[self.status]

    @property
    def local_time(self) -> datetime:
        return self.appointment.slot.starts_at.astimezone(PARIS)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in Europe/Paris (23 or 25 hours apart on
    the days the clocks change)."""
    start = datetime.combine(day, time(0), tzinfo=PARIS)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


def status(appointment: Appointment, day: date, today: date) -> str:
    state = appointment.state
    if state == AppointmentState.CHECKED_IN:
        return "seen" if day < today else "present"
    return {
        AppointmentState.CONFIRMED: "to_come",
        AppointmentState.OFFERED: "offered",
        AppointmentState.NO_SHOW: "absent",
    }.get(state, "cancelled")


def day_rows(site: Site, day: date, today: date) -> list[DayRow]:
    """The site's appointments of `day`, in time order, each with its status: one query."""
    start, end = day_bounds(day)
    appointments = (
        Appointment.objects.filter(
            slot__site=site,
            slot__starts_at__gte=start,
            slot__starts_at__lt=end,
            state__in=LISTED_STATES,
        )
        .select_related("entry", "slot__procedure")
        .order_by("slot__starts_at", "slot__code", "pk")
    )
    return [DayRow(appointment, status(appointment, day, today)) for appointment in appointments]


def neutralised(value) -> str:
    """A CSV cell that no spreadsheet runs: a value starting like a formula gets a leading
    quote (OWASP's advice for CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def day_csv(rows: list[DayRow]) -> str:
    """The day's list as CSV text: time, desk, reference, status, procedure; every cell
    neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = [_("Time"), _("Desk"), _("Reference"), _("Status"), _("Procedure")]
    writer.writerow([neutralised(cell) for cell in header])
    for row in rows:
        appointment = row.appointment
        cells = [
            row.local_time.strftime("%H:%M"),
            appointment.checkin_desk,
            appointment.entry.pseudonym,
            row.status_label,
            appointment.slot.procedure.name,
        ]
        writer.writerow([neutralised(cell) for cell in cells])
    return out.getvalue()


def day_totals_by_site(prefecture_id: int, day: date):
    """The prefecture's sites with the day's counts (Europe/Paris): `expected` (confirmed,
    checked in or absent), `present` (checked in) and `absent` (no_show). One query."""
    start, end = day_bounds(day)
    of_day = Q(slots__starts_at__gte=start, slots__starts_at__lt=end)
    state = "slots__appointments__state"
    return (
        Site.objects.filter(prefecture_id=prefecture_id)
        .annotate(
            expected=Count(
                "slots__appointments",
                filter=of_day & Q(**{f"{state}__in": DAY_TOTAL_STATES}),
            ),
            present=Count(
                "slots__appointments",
                filter=of_day & Q(**{state: AppointmentState.CHECKED_IN}),
            ),
            absent=Count(
                "slots__appointments", filter=of_day & Q(**{state: AppointmentState.NO_SHOW})
            ),
        )
        .order_by("name", "code")
    )


DAY_TOTAL_STATES = [
    AppointmentState.CONFIRMED,
    AppointmentState.CHECKED_IN,
    AppointmentState.NO_SHOW,
]
