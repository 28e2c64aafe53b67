"""Settings refuse junk at start, with a message that says what to fix."""

import os
import subprocess
import sys
from pathlib import Path

from config.env import env_database

ROOT = Path(__file__).resolve().parent.parent


def _start_django(**env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL", "DEBUG"}}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_missing_secret_key_outside_debug_is_refused():
    result = _start_django(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_settings_malformed_database_url_is_refused():
    result = _start_django(DEBUG="0", SECRET_KEY="x" * 40, DATABASE_URL="postgress//nohost")

    assert result.returncode != 0
    assert "DATABASE_URL must look like postgres://" in result.stderr


def test_settings_junk_boolean_is_refused():
    result = _start_django(DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_settings_same_key_for_hashes_and_secret_is_refused():
    result = _start_django(DEBUG="0", SECRET_KEY="k" * 40, BLIND_INDEX_KEY="k" * 40)

    assert result.returncode != 0
    assert "BLIND_INDEX_KEY must differ" in result.stderr


def test_settings_complete_environment_starts():
    result = _start_django(DEBUG="0", SECRET_KEY="s" * 40)

    assert result.returncode == 0, result.stderr


def test_postgres_urls_use_django_s_own_backend_with_health_checks():
    config = env_database("X_DATABASE_URL", "postgres://u@h:5432/db")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_HEALTH_CHECKS"] is True
    assert env_database("X_DATABASE_URL", "sqlite:///x.sqlite3")["ENGINE"].endswith("sqlite3")
