"""Reminders of confirmed appointments: two days before, and again on the eve.

Celery beat runs `send_due_reminders` every hour (config/schedule.py); messages go out in the
day only (SEND_HOURS, Paris time), in the person's language. Each reminder has its own dedup
key (`reminder:<days>:<appointment>`), so it is written once whatever the number of runs, and
the count reports only the new ones: never twice. Appointments confirmed less than two days
before get the eve's reminder only; a cancelled one gets none.
"""

from datetime import datetime, time, timedelta

from django.db import transaction

from accounts import audit
from booking.models import Appointment, AppointmentState
from lottery import clock
from lottery.messages import PARIS
from lottery.notifications import notify_reminder

DAYS_BEFORE = (2, 1)
SEND_HOURS = range(9, 20)


def send_due_reminders(now=None) -> dict[int, int]:
    """Write the reminders due at `now` (the database's time by default): {days before:
    reminders written}. Nothing outside SEND_HOURS."""
    now = now or clock.now()
    local = now.astimezone(PARIS)
    counts = dict.fromkeys(DAYS_BEFORE, 0)
    if local.hour not in SEND_HOURS:
        return counts
    for days in DAYS_BEFORE:
        start = datetime.combine(local.date() + timedelta(days=days), time.min, tzinfo=PARIS)
        due = Appointment.objects.filter(
            state=AppointmentState.CONFIRMED,
            entry__contact__isnull=False,
            slot__starts_at__gte=start,
            slot__starts_at__lt=start + timedelta(days=1),
        ).select_related("entry__contact", "slot__site")
        with transaction.atomic():
            for appointment in due:
                counts[days] += notify_reminder(appointment, days)  # 0 if written before
            if counts[days]:
                audit.record("reminders.sent", actor="reminders", days=days, count=counts[days])
    return counts
