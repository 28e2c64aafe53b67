"""Benchmark settings: the real settings plus one baseline URL (a bare view inserting a row).
Used only by the registration benchmarks (bench/common.py); production never loads it."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,  # quiet: measure, don't print
    "root": {"level": "WARNING", "handlers": []},
}
