"""Capacity planning: a window's slots generated from a template instead of one form at a time.

A template is a date range, weekdays, opening periods with their breaks, a duration, a number of
desks, a site and a procedure; public holidays are left out (the `holidays` package's calendar
of France, or of an overseas department or Alsace-Moselle). `plan` is pure: the preview shows
exactly what `generate_slots` will save. Slots are added only until the window's freeze
(booking.slots), and a template run twice adds nothing the second time (codes are derived from
site, time and desk).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts import audit
from booking import slots
from booking.models import Slot, Window

PARIS = ZoneInfo("Europe/Paris")
MAX_DAYS = 92  # a quarter: enough for a window, small enough to preview on one page
# Calendars of public holidays (the `holidays` package's subdivisions of France).
CALENDARS = {
    "FR": _("Metropolitan France"),
    "6AE": _("Alsace and Moselle"),
    "971": _("Guadeloupe"),
    "972": _("Martinique"),
    "973": _("Guyane"),
    "974": _("La Réunion"),
    "976": _("Mayotte"),
}


@dataclass(frozen=True)
class Template:
    site_id: int
    site_code: str
    procedure_id: int
    first_day: date
    last_day: date
    weekdays: frozenset[int]  # ISO: Monday 1 .. Sunday 7
    periods: tuple[tuple[time, time], ...]  # opening hours; the gaps between them are breaks
    minutes: int
    desks: int
    calendar: str = "FR"


@dataclass(frozen=True)
class Planned:
    code: str
    starts_at: datetime


def closed_days(template: Template) -> dict[date, str]:
    """The public holidays in the template's range, with their names."""
    years = range(template.first_day.year, template.last_day.year + 1)
    subdivision = None if template.calendar == "FR" else template.calendar
    calendar = holidays.country_holidays("FR", subdiv=subdivision, years=years)
    return {
        day: name
        for day, name in sorted(calendar.items())
        if template.first_day <= day <= template.last_day
    }


def plan(template: Template) -> list[Planned]:
    """Every slot of the template, in time order then desk: one per desk at each start that
    leaves a whole slot before the period's end, on open weekdays that are not holidays."""
    closed, planned = closed_days(template), []
    day = template.first_day
    while day <= template.last_day:
        if day.isoweekday() in template.weekdays and day not in closed:
            planned.extend(_day(template, day))
        day += timedelta(days=1)
    return planned


def _day(template: Template, day: date) -> list[Planned]:
    step = timedelta(minutes=template.minutes)
    planned = []
    for opens, closes in template.periods:
        start = datetime.combine(day, opens, tzinfo=PARIS)
        end = datetime.combine(day, closes, tzinfo=PARIS)
        while start + step <= end:
            planned.extend(
                Planned(f"{template.site_code[:12]}_{start:%Y%m%d_%H%M}_{desk}", start)
                for desk in range(1, template.desks + 1)
            )
            start += step
    return planned


def totals_per_day(planned: list[Planned]) -> list[tuple[date, int]]:
    """How many slots each day gets, in date order (the preview's table)."""
    return sorted(Counter(slot.starts_at.date() for slot in planned).items())


def generate_slots(*, window_id: int, template: Template, actor) -> int:
    """Save the template's slots in the window (refused once it is frozen); slots whose code
    already exists are left as they are. Returns how many were added."""
    planned = plan(template)
    with transaction.atomic():
        slots.check_not_frozen(window_id, lock=True)
        existing = set(Slot.objects.filter(window_id=window_id).values_list("code", flat=True))
        new = [
            Slot(
                window_id=window_id,
                site_id=template.site_id,
                procedure_id=template.procedure_id,
                code=slot.code,
                starts_at=slot.starts_at,
            )
            for slot in planned
            if slot.code not in existing
        ]
        Slot.objects.bulk_create(new)
        window = Window.objects.get(pk=window_id)
        audit.record(
            "slots.generated",
            actor=actor,
            target=window,
            prefecture_id=window.prefecture_id,
            site=template.site_code,
            procedure=template.procedure_id,
            first_day=template.first_day,
            last_day=template.last_day,
            added=len(new),
            already_there=len(planned) - len(new),
        )
    return len(new)
