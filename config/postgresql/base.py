"""Django's PostgreSQL backend, with the per-request health check skipped for a connection that
was used without error a moment ago.

With persistent connections and CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first
query of every request: one more round trip per request (three per registration), paid under
load when the connection has just proved itself. Here a connection used without error less
than HEALTHY_FOR seconds ago (DB_HEALTHY_FOR_SECONDS, default 5) is not checked again; an idle
one still is, so a database restart or a connection cut while idle (firewall, proxy) costs no
request an error. Within those seconds a restart makes the next request on that connection
fail once, as it would without health checks, and Django then drops the connection.
HEALTHY_FOR 0 is Django's own behaviour.

It also offers `prepared_cursor()`, for the few statements that a request runs again and again
with new values (accounts.prepared, accounts.together): server-side binding, and each statement
prepared on the server once per connection, so that PostgreSQL does not parse and plan it on
every request (about half of PostgreSQL's CPU per registration, docs/benchmarks.md). Every other
query keeps Django's client-side binding. psycopg keeps at most 100 prepared statements per
connection (least recently used dropped). PREPARED_STATEMENTS False (DB_PREPARED_STATEMENTS=0,
e.g. behind a pooler in transaction mode that does not track them) gives a plain cursor.
"""

import re
import time
from functools import lru_cache

import psycopg
from django.db.backends.postgresql import base

ONLY_WHEN_ASKED = 2**31 - 1  # executions before psycopg prepares a statement on its own


class PreparingCursor(base.CursorMixin, psycopg.RawCursor):
    """Server-side binding; every statement prepared on the server (once per connection).

    A raw cursor (PostgreSQL's own `$1` placeholders): the statement's text is converted from
    Django's `%s` once per text and kept (`numbered`), where psycopg's own cursor converts it on
    every execution unless it is short (4 KB, 50 parameters: a registration's start is 6.7 KB
    with 58), about 0.1 ms a time."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if params is not None:  # without parameters the text is sent as it is (no %% either)
            query = numbered(query)
        return super().execute(query, params, prepare=True, binary=binary)


@lru_cache(maxsize=512)
def numbered(query: str) -> str:
    """`query` with its `%s` placeholders numbered as PostgreSQL's `$1, $2, ...` and `%%` as
    `%`. Named placeholders (`%(name)s`) are refused: the prepared statements have none."""
    count = 0

    def number(match):
        nonlocal count
        if match.group() == "%%":
            return "%"
        if match.group() != "%s":
            raise ValueError(f"only %s placeholders in a prepared statement: {match.group()!r}")
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, query)


_PLACEHOLDER = re.compile(r"%%|%\([^)]*\)[sbt]|%[sbt]?")


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")  # time.monotonic() when a cursor was last opened
    cursor_class = None  # while prepared_cursor() opens one: the class it asks for

    def prepared_cursor(self):
        """A cursor whose statements are prepared on the server (see the module's note),
        opened and wrapped as Django opens its own (health check, errors, query logging)."""
        if not self.settings_dict.get("PREPARED_STATEMENTS", True):
            return self.cursor()
        self.cursor_class = PreparingCursor
        try:
            return self._cursor()
        finally:
            self.cursor_class = None

    def create_cursor(self, name=None):
        if self.cursor_class is None or name:
            return super().create_cursor(name)
        if self.connection.prepare_threshold is None:
            # Django turns psycopg's preparing off; this lets the statements prepared on request
            # (this cursor's) be prepared, and no others: client-side binding, which every
            # other query uses, never prepares.
            self.connection.prepare_threshold = ONLY_WHEN_ASKED
        default, self.connection.cursor_factory = self.connection.cursor_factory, self.cursor_class
        try:  # Django's own cursor (its time zone and all), of this class
            return super().create_cursor(name)
        finally:
            self.connection.cursor_factory = default

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self.last_used = time.monotonic()
        return cursor

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and not self.health_check_done
            and not self.errors_occurred
            and time.monotonic() - self.last_used < self.settings_dict.get("HEALTHY_FOR", 5)
        ):
            self.health_check_done = True  # used a moment ago without error: healthy
            return
        super().close_if_health_check_failed()
