"""Reading configuration from the environment, failing loudly on junk values.

Every reader raises ``ImproperlyConfigured`` with the variable's name and what was expected, so
a typo in a deployment stops the process at start instead of running with a silent default.
"""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_DB_SCHEMES = ("postgres://", "postgresql://", "sqlite:///", "sqlite://:memory:")


def env_database(name: str, default: str) -> dict:
    """Parse a DATABASE_URL; only PostgreSQL and SQLite are supported."""
    url = env_str(name, default)
    if not url or not url.startswith(_DB_SCHEMES):
        raise ImproperlyConfigured(
            f"{name} must look like postgres://user:password@host:5432/dbname "
            f"or sqlite:///path/to/db.sqlite3, got {url!r}."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types on junk
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from None
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {url!r}.")
    return config


def env_url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    url = env_str(name, default)
    if url and not url.startswith(schemes):
        raise ImproperlyConfigured(f"{name} must start with one of {schemes}, got {url!r}.")
    return url
