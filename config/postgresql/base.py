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
"""

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_used = float("-inf")  # time.monotonic() when a cursor was last opened

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
