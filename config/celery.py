"""The Celery application. Tasks only trigger work; correctness never rests on delivery."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("fairslot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Django's LOGGING (config.settings: JSON lines under LOG_FORMAT=json) from the worker's first
# line: celeryd_init comes before Celery's own start-up warnings (running as root, say), which
# config.logs.configure makes log records. Celery then finds the root logger configured and
# keeps it (CELERY_WORKER_HIJACK_ROOT_LOGGER); beat loads Django, hence LOGGING, before that.
# Celery's banners are off in the image's commands (`celery --quiet`, Dockerfile).
@signals.celeryd_init.connect
def _log_as_django_does(**_kwargs):
    from django.conf import settings

    from config.logs import configure

    configure(settings.LOGGING)


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_to_start_if_misconfigured(**_kwargs):
    # Celery logs and swallows an Exception raised by a signal handler: SystemExit is not one,
    # so the worker or beat stops here, with the message naming the variable.
    from django.core.exceptions import ImproperlyConfigured

    from ops.checks import refuse_to_start_if_misconfigured

    try:
        refuse_to_start_if_misconfigured()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"ImproperlyConfigured: {exc}") from None


# Every audit row written by a task names it ("task_tick_draws"), never a bare "system".
_actors = {}


@signals.task_prerun.connect
def _name_the_actor(task_id=None, task=None, **_kwargs):
    from accounts import audit  # Django's apps are ready once a task runs

    context = audit.acting_as(task.name.rsplit(".", 1)[-1])
    context.__enter__()
    _actors[task_id] = context


@signals.task_postrun.connect
def _forget_the_actor(task_id=None, **_kwargs):
    context = _actors.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)
