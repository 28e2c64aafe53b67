"""Writes that do not depend on each other, sent together: one round trip on PostgreSQL.

A request's last writes are often independent rows: the audit event, the outbox message, a mark
on the pending registration. Each costs a round trip to the database, and on a shared machine
the round trips are a measurable part of a registration's cost (docs/benchmarks.md: six more
of them took about 7 % off the registrations per second). On PostgreSQL, `together(a, b, c)`
sends them as one statement, a data-modifying WITH (`WITH w0 AS (a), w1 AS (b) c`): each part
runs exactly once and to completion whatever the others do, in the caller's transaction, and
an error in any part fails the statement (and the transaction) as a lone statement would.
Elsewhere (SQLite, the embedded default) the parts run one by one in the same order.

What a caller gives up: the parts see the database as it was before the statement (no part
reads another's row), and only the last part's result comes back. So every part but the last
must be a write whose returned values (generated keys) nobody reads, on rows no other part
touches.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@dataclass(frozen=True)
class Write:
    """One statement, not sent yet: its SQL, its parameters, and what to make of its result
    (`done(cursor)` after it ran; only called for the last part of `together`)."""

    sql: str
    params: list
    done: Callable[[Any], Any] = lambda cursor: cursor.rowcount


def together(*writes: Write, using: str = DEFAULT_DB_ALIAS):
    """Run `writes` in order, in one statement where the database allows it; return the last
    one's `done(cursor)`."""
    connection = connections[using]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(writes) > 1:
            parts = ", ".join(f"w{i} AS ({write.sql})" for i, write in enumerate(writes[:-1]))
            cursor.execute(
                f"WITH {parts} {writes[-1].sql}", [p for write in writes for p in write.params]
            )
        else:
            for write in writes:
                cursor.execute(write.sql, write.params)
        return writes[-1].done(cursor)
