"""Benchmark settings: the real settings plus one baseline URL (a bare view inserting a row).
Used only by bench/registration.py; production never loads this module."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,  # quiet: measure, don't print
    "root": {"level": "WARNING", "handlers": []},
}
