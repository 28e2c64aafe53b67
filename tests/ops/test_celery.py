"""Celery's production shape (issue 20): every task of the project has time limits that stay
under the broker's visibility timeout, acks_late (with reject_on_worker_lost) is set exactly on
the tasks idempotent by construction, and one reconciler is scheduled."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import ContactKind, OutboxMessage, OutboxState
from accounts.outbox import RECLAIM_AFTER
from config.celery import app
from ops.tasks import task_reconcile

# The tasks whose repeat is a no-op by construction (each says why where it is defined).
IDEMPOTENT = {
    "accounts.tasks.task_deliver_outbox",
    "accounts.tasks.task_purge_expired_codes",
    "booking.tasks.purge_expired_data",
    "booking.tasks.task_tick_windows",
    "lottery.tasks.task_build_kit",
    "lottery.tasks.task_mark_absences",
    "lottery.tasks.task_publish_event_heads",
    "lottery.tasks.task_run_draw",
    "lottery.tasks.task_send_reminders",
    "lottery.tasks.task_tick_draws",
    "ops.tasks.task_reconcile",
}
PROJECT_APPS = ("accounts.", "booking.", "lottery.", "ops.", "config.")


def project_tasks() -> dict:
    # Importing the default modules runs the Django fix-up's model checks, which read the
    # database: hence the `db` fixture of the tests below.
    app.loader.import_default_modules()  # what a worker autodiscovers at start
    return {name: task for name, task in app.tasks.items() if name.startswith(PROJECT_APPS)}


def test_every_project_task_has_soft_and_hard_time_limits_under_the_visibility_timeout(db):
    # Arrange
    # The Redis broker's (the one that redelivers), else its default (config/settings.py).
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    visibility = options.get("visibility_timeout", 2 * 60 * 60)

    # Act
    tasks = project_tasks()

    # Assert
    assert set(tasks) >= IDEMPOTENT | {"ops.tasks.task_heartbeat"}
    for name, task in tasks.items():
        assert task.soft_time_limit, name
        assert task.time_limit, name
        assert task.soft_time_limit < task.time_limit < visibility, name


def test_acks_late_and_reject_on_worker_lost_are_set_exactly_on_the_idempotent_tasks(db):
    # Act
    tasks = project_tasks()

    # Assert
    late = {name for name, task in tasks.items() if task.acks_late}
    rejecting = {name for name, task in tasks.items() if task.reject_on_worker_lost}
    assert late == IDEMPOTENT
    assert rejecting == IDEMPOTENT
    assert settings.CELERY_TASK_ACKS_LATE is False


def test_workers_take_one_message_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_one_periodic_reconciler_is_scheduled_and_registered(db):
    # Act
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = [entry["task"] for entry in schedule.values()]

    # Assert
    assert tasks.count("ops.tasks.task_reconcile") == 1
    assert "lottery.tasks.task_tick_draws" not in tasks
    assert "accounts.tasks.task_deliver_outbox" not in tasks
    assert all(task in project_tasks() for task in tasks)


def test_reconciler_resends_an_outbox_row_left_sending_by_a_killed_worker(db, mailoutbox):
    # Arrange: a row claimed long ago by a worker that died before marking it sent
    message = OutboxMessage.objects.create(
        channel=ContactKind.EMAIL,
        recipient="reconcile@example.org",
        subject="Fairslot",
        body="Your appointment",
        dedup_key="test-reconcile",
        state=OutboxState.SENDING,
    )
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_at=timezone.now() - RECLAIM_AFTER - timedelta(minutes=1)
    )

    # Act
    done = task_reconcile()

    # Assert
    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert [mail.to for mail in mailoutbox] == [["reconcile@example.org"]]
    assert done["outbox_sent"] == 1
