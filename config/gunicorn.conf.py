"""gunicorn's settings for the web processes: `gunicorn --config config/gunicorn.conf.py
config.wsgi` (the image's command). Read from the environment like the rest."""

import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Processes per container; more containers behind the load balancer scale further.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Worker heartbeats in memory, not on the container's (maybe slow) disk: gunicorn's advice for
# containers. Only gunicorn's own heartbeat files go there.
SHARED_MEMORY = "/dev/shm"  # noqa: S108
worker_tmp_dir = SHARED_MEMORY if Path(SHARED_MEMORY).is_dir() else None
# No access log: it would print every path, and paths can hold receipt tokens. Each request is
# logged by ops.middleware with its route name and request id instead.
accesslog = None
errorlog = "-"
# gunicorn's own lines (starting, listening, booting a worker, a signal) in the format of every
# other line (LOG_FORMAT, as config.settings LOGGING): JSON lines in the image. gunicorn.error
# does not propagate: its handler writes each line once, in the master, which loads no Django,
# and in the workers alike, where Django's LOGGING configures the root logger only. Any
# logconfig_dict turns gunicorn's access log on: it goes nowhere, for the reason above.
# Strings, not imports: this file is read before the project is on the import path.
_FORMATTERS = {
    "json": {"()": "config.logs.JsonFormatter"},
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
}
logconfig_dict = {
    "formatters": {"fairslot": _FORMATTERS[os.environ.get("LOG_FORMAT", "plain")]},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "fairslot"},
        "nowhere": {"class": "logging.NullHandler"},
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"handlers": ["nowhere"], "propagate": False},
    },
}
# No control socket (gunicorn 27's `gunicornc`): nothing here uses it, and its default place,
# $HOME/.gunicorn, is not writable by the image's user (nor shared safely between services).
control_socket_disable = True
# Behind a reverse proxy that sets X-Forwarded-Proto (TRUSTED_PROXY_COUNT in Django's settings).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    # prometheus-client's multiprocess mode: counts of processes from an earlier start would be
    # added to this one's, so the folder starts empty (ops.metrics).
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
