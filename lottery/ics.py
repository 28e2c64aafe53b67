"""The appointment as a calendar entry (.ics, RFC 5545) for the phone's calendar: the time in
Europe/Paris with its VTIMEZONE, the place, and in the person's language what to do, with a
reminder the day before. Nothing personal beyond the entry's reference.

The UID is the appointment's, so that importing the file again updates the same entry. A slot
stores its start only (slot templates have a length, slots do not keep it): the entry lasts
`MINUTES`, the usual length of a slot; the calendar needs an end, the desk goes by the start."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from booking.models import Appointment
from lottery import clock
from lottery.convocation_pdf import documents, supported_language

PARIS = ZoneInfo("Europe/Paris")
MINUTES = 30
PRODID = "-//Fairslot//Convocation//FR"


def appointment_ics(appointment: Appointment, language: str) -> bytes:
    """`appointment` as an iCalendar file (UTF-8 bytes), its texts in `language`."""
    starts = appointment.slot.starts_at.astimezone(PARIS)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    with translation.override(supported_language(language)):
        calendar.add_component(_event(appointment, starts))
    # The rules of the appointment's year and the next only: a short VTIMEZONE.
    calendar.add_missing_timezones(
        first_date=date(starts.year, 1, 1), last_date=date(starts.year + 2, 1, 1)
    )
    return calendar.to_ical()


def _event(appointment: Appointment, starts) -> Event:
    slot = appointment.slot
    summary = _labelled(_("Appointment"), slot.procedure.name)
    event = Event()
    event.add("uid", f"appointment-{appointment.pk}@fairslot")
    event.add("dtstamp", clock.now())
    event.add("dtstart", starts)
    event.add("dtend", starts + timedelta(minutes=MINUTES))
    event.add("summary", summary)
    event.add("description", _description(appointment, starts))
    event.add("location", ", ".join(filter(None, [slot.site.name, slot.site.address])))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    reminder = Alarm()
    reminder.add("action", "DISPLAY")
    reminder.add("description", summary)
    reminder.add("trigger", timedelta(days=-1))
    event.add_component(reminder)
    return event


def _description(appointment: Appointment, starts) -> str:
    slot = appointment.slot
    lines = [
        _labelled(_("Procedure"), slot.procedure.name),
        _labelled(_("Date"), f"{date_format(starts, 'l j F Y')} {starts:%H:%M}"),
        _labelled(_("Reference"), appointment.entry.pseudonym),
        _("Bring this convocation and your identity papers to the desk on the day."),
    ]
    wanted = documents(slot.procedure.documents)
    if wanted:
        lines += ["", _labelled(_("What to bring"), "")] + [f"- {line}" for line in wanted]
    return "\n".join(lines)


def _labelled(label: str, value: str) -> str:
    # Translators: a label and its value, as in "Date: Monday 5 July 2027 09:30". French puts
    # a space before the colon.
    return (_("%(label)s: %(value)s") % {"label": label, "value": value}).rstrip()
