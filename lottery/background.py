"""Database statements that run while Python computes: a draw's writes in a thread, on the
draw's own connection and hence inside its transaction.

A draw is Python work (parsing, the engine, the checks) and PostgreSQL work (a million-row
UPDATE, constraint checks, storing large files), and the machine has two cores or more. While
a statement runs, the thread that sent it only waits on the socket (psycopg releases the
interpreter), so the caller's Python keeps one core and PostgreSQL works on another.

    with in_background(work):   # work(cursor) runs in a thread
        compute()               # must not use the database until the block ends

`work` gets a psycopg cursor of the draw's connection (not Django's per-thread `connection`,
which would open a second connection, i.e. another transaction). Leaving the block waits for
it and raises its error, if any; the transaction then rolls back as usual. Elsewhere than
PostgreSQL (SQLite keeps a connection per thread), `work` gets a Django cursor and runs on
entering the block.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections

logger = logging.getLogger(__name__)


@contextmanager
def in_background(work: Callable, name: str = "draw-db"):
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            work(cursor)
        yield
        return
    wrapper = connections[DEFAULT_DB_ALIAS]  # the object itself, not the per-thread proxy
    wrapper.ensure_connection()

    def run():
        with wrapper.wrap_database_errors, wrapper.connection.cursor() as cursor:
            work(cursor)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        future = pool.submit(run)
        try:
            yield
        except BaseException:
            error = future.exception()  # waits: the connection is the thread's until then
            if error is not None:
                logger.error("%s: the statements in the background failed too: %r", name, error)
            raise
        future.result()
