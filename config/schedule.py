"""Celery beat's static schedule (config/settings.py names it CELERY_BEAT_SCHEDULE): what runs
periodically, how often, and why a missed or doubled run is harmless. Times are in Celery's time
zone, TIME_ZONE (Europe/Paris). django-celery-beat is not used: it pins Django below 6.1.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Advance windows whose time has come; idempotent, so a missed or doubled tick is harmless.
    "window-tick": {"task": "booking.tasks.task_tick_windows", "schedule": 60.0},
    # The one reconciler (ops.tasks): freeze, beacon, draw, publish and re-offer steps whose
    # time has come, stuck draws included, then the outbox's due rows, stuck ones included.
    "reconcile": {"task": "ops.tasks.task_reconcile", "schedule": 30.0},
    # The day's events.log head of every drawn window (FAIRDRAW-1 section 10); hourly so that a
    # missed run is made up, once per day and draw.
    "publish-event-heads": {
        "task": "lottery.tasks.task_publish_event_heads",
        "schedule": crontab(minute=5),
    },
    "purge-expired-codes": {
        "task": "accounts.tasks.task_purge_expired_codes",
        "schedule": crontab(minute=17),
    },
    # Confirmed appointments whose time passed without a check-in become absences, every evening
    # at 20:00 (Celery's time zone is TIME_ZONE, Europe/Paris). Idempotent: a missed evening is
    # made up by the next one.
    "mark-absences": {
        "task": "lottery.tasks.task_mark_absences",
        "schedule": crontab(hour=20, minute=0),
    },
    # Retention (booking.retention, docs/retention.md): expired codes, identities and contacts
    # whose purpose is over are erased, every night at 03:40. Idempotent: a missed night is made
    # up by the next one.
    "purge-expired-data": {
        "task": "booking.tasks.purge_expired_data",
        "schedule": crontab(hour=3, minute=40),
    },
    # Proves to /readyz that beat sends and a worker runs (ops.health: at most 2 minutes old).
    "heartbeat": {"task": "ops.tasks.task_heartbeat", "schedule": 30.0},
    # Reminders of confirmed appointments, 2 days before and on the eve (lottery.reminders).
    "reminders": {"task": "lottery.tasks.task_send_reminders", "schedule": crontab(minute=25)},
}
