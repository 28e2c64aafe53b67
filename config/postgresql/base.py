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

import time

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

TIMESTAMPTZ_OID = 1184
ONLY_WHEN_ASKED = 2**31 - 1  # executions before psycopg prepares a statement on its own


class PreparingCursor(base.ServerBindingCursor):
    """Server-side binding; every statement prepared on the server (once per connection)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")  # time.monotonic() when a cursor was last opened

    def prepared_cursor(self):
        """A cursor whose statements are prepared on the server (see the module's note),
        wrapped as Django wraps its own (errors, query logging)."""
        if not self.settings_dict.get("PREPARED_STATEMENTS", True):
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            if self.connection.prepare_threshold is None:
                # Django turns psycopg's preparing off; this lets the statements prepared on
                # request (this cursor's) be prepared, and no others: client-side binding, which
                # every other query uses, never prepares.
                self.connection.prepare_threshold = ONLY_WHEN_ASKED
            cursor = PreparingCursor(self.connection)
            # As Django's create_cursor: dates in the connection's time zone.
            tzloader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != tzloader.timezone:
                register_tzloader(self.timezone, cursor)
            wrapped = self._prepare_cursor(cursor)
        self.last_used = time.monotonic()
        return wrapped

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
