"""Writes that do not depend on each other, sent together: one round trip on PostgreSQL.

A request's last writes are often independent rows: the audit event, the outbox message, a mark
on the pending registration. Each costs a round trip to the database, and on a shared machine
the round trips are a measurable part of a registration's cost (docs/benchmarks.md, the
registration's fourth round). On PostgreSQL, `together(a, b, c)` sends them as one statement,
a data-modifying WITH (`WITH w0 AS (a), w1 AS (b) c`): each part runs exactly once and to
completion whatever the others do, in the caller's transaction, and an error in any part fails
the statement (and the transaction) as a lone statement would.
Elsewhere (SQLite, the embedded default) the parts run one by one in the same order.

What a caller gives up: the parts see the database as it was before the statement (no part
reads another's row), and only the last part's result comes back. So every part but the last
must be a write whose returned values (generated keys) nobody reads, on rows no other part
touches.

`together_if(condition, ...)` makes the writes only if a conditional UPDATE changed a row, and
`chain(...)` (PostgreSQL only) lets a part take the values another part returned (a new row's
key) and end with a query of the caller's: a row and the rows that refer to it in one round
trip. With them a request whose writes are one statement needs no transaction of its own: a
lone statement is atomic. The registration uses them so (docs/benchmarks.md, fifth round).
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@dataclass(frozen=True)
class Write:
    """One statement, not sent yet: its SQL, its parameters, and what to make of its result
    (`done(cursor)` after it ran; only called for the last part of `together`)."""

    sql: str
    params: list
    done: Callable[[Any], Any] = lambda cursor: cursor.rowcount
    # In a `chain`: the parts that must have returned a row for this write to be made.
    after: tuple[int, ...] = ()


def cursor_for(connection):
    """A cursor for statements run again and again with new values: prepared on the server
    where the backend offers it (config/postgresql), a plain one elsewhere."""
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()


def together(*writes: Write, using: str = DEFAULT_DB_ALIAS):
    """Run `writes` in order, in one statement where the database allows it; return the last
    one's `done(cursor)`."""
    connection = connections[using]
    with transaction.mark_for_rollback_on_error(using), cursor_for(connection) as cursor:
        if connection.vendor == "postgresql" and len(writes) > 1:
            parts = ", ".join(f"w{i} AS ({write.sql})" for i, write in enumerate(writes[:-1]))
            cursor.execute(
                f"WITH {parts} {writes[-1].sql}", [p for write in writes for p in write.params]
            )
        else:
            for write in writes:
                cursor.execute(write.sql, write.params)
        return writes[-1].done(cursor)


def together_if(
    condition: Write, *writes: Write, last_saved: bool = False, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Run `condition`, an UPDATE, and only if it changed a row, `writes` too: all of it or
    nothing. Returns the number of rows `condition` changed. With `last_saved`, the last write
    is an insert that returns its row whenever it is made (no ON CONFLICT): its row is saved
    (`accounts.inserts.insert_write`: key set), and the result is 1 if it was made, else 0.

    On PostgreSQL this is one statement (`WITH fs_condition AS (condition RETURNING 1),
    w0 AS (write0 guarded by EXISTS (SELECT 1 FROM fs_condition)) ...`), which needs no
    transaction of its own: outside one, it is committed when it returns. Elsewhere the parts
    run one by one in a transaction.
    `writes` are single-row inserts or updates with a WHERE, as `together`'s parts (their
    results are not read)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        parts = [f"fs_condition AS ({condition.sql} RETURNING 1)"]
        writes = [guarded(write, _CHANGED) for write in writes]
        parts += [f"w{i} AS ({write.sql})" for i, write in enumerate(writes)]
        params = [*condition.params, *(p for write in writes for p in write.params)]
        result = (
            f"SELECT * FROM w{len(writes) - 1}"  # noqa: S608 (a part's name)
            if last_saved
            else "SELECT count(*) FROM fs_condition"
        )
        with transaction.mark_for_rollback_on_error(using), cursor_for(connection) as cursor:
            # Only compiled statements are joined here; every value is a parameter.
            cursor.execute(f"WITH {', '.join(parts)} {result}", params)
            return int(writes[-1].done(cursor)) if last_saved else cursor.fetchone()[0]
    with transaction.atomic(using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(condition.sql, condition.params)
        changed = cursor.rowcount
        if changed:
            for write in writes:
                cursor.execute(write.sql, write.params)
            if last_saved:
                return int(writes[-1].done(cursor))
    return changed


@dataclass(frozen=True)
class From:
    """A parameter of a `chain` part that stands for a value an earlier part wrote: `column` of
    the row that part `part` returned (its RETURNING)."""

    part: int
    column: str = "id"


def chains(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether `chain` is available on this database (PostgreSQL)."""
    return connections[using].vendor == "postgresql"


def chain(*parts: Write, final: Write, using: str = DEFAULT_DB_ALIAS):
    """One statement on PostgreSQL (see `chains`): `parts` as `w0`, `w1`, ... of a WITH, then
    `final`, a query that may read them; returns `final.done(cursor)`.

    A part may take values from the rows earlier parts returned: a parameter `From(i, "id")`
    becomes `w<i>."id"`, and an INSERT with such values inserts only if every part it takes
    values from returned a row (its VALUES become a SELECT from those parts; an UPDATE gets
    them in a FROM). So a row and the rows that refer to it are written in one round trip, and
    a conflict on the first (ON CONFLICT DO NOTHING) writes none of them. A part's `after`
    names more parts that must have returned a row, without taking values from them. As in
    `together`, every part sees the database as it was before the statement, runs once and to
    completion, and an error in any part fails the statement."""
    if not chains(using):
        raise NotImplementedError("chain() needs PostgreSQL: callers check chains() first")
    connection = connections[using]
    # A part's SQL here depends only on its shape (its SQL, where its `From` values stand and
    # what it comes after): the statement of a set of shapes is built once (`_statement`).
    shapes = tuple(_shape(part) for part in parts)
    params = [value for part in parts for value in part.params if not isinstance(value, From)]
    sql = _statement(shapes, final.sql, connection.ops.quote_name)
    with transaction.mark_for_rollback_on_error(using), cursor_for(connection) as cursor:
        cursor.execute(sql, [*params, *final.params])
        return final.done(cursor)


def _shape(part: Write) -> tuple:
    links = tuple(value if isinstance(value, From) else None for value in part.params)
    return part.sql, links, part.after


@lru_cache(maxsize=256)
def _statement(shapes: tuple, final: str, quote) -> str:
    """The statement of a `chain` whose parts have these shapes (SQL, `From` values by
    position, `after`): the same few shapes come back on every request."""
    ctes = [f"w{i} AS ({_linked(*shape, i, quote)})" for i, shape in enumerate(shapes)]
    return f"WITH {', '.join(ctes)} {final}"


_PLACEHOLDER = re.compile(r"%%|%s")
_MISSING = object()


def _linked(sql: str, links: tuple, after: tuple, index: int, quote) -> str:
    """A part's SQL with its `From` values (`links`, by position; None for a parameter of its
    own) read from the parts they name, and, if it depends on any, made only when they all
    returned a row."""
    pieces, sources = [], list(after)
    position, values = 0, iter(links)
    for match in _PLACEHOLDER.finditer(sql):
        pieces.append(sql[position : match.start()])
        position = match.end()
        if match.group() == "%%":
            pieces.append("%%")
            continue
        link = next(values, _MISSING)
        if link is _MISSING:
            raise ValueError(f"part {index} has fewer parameters than placeholders")
        if link is None:
            pieces.append("%s")
            continue
        pieces.append(f"w{link.part}.{quote(link.column)}")
        if link.part not in sources:
            sources.append(link.part)
    pieces.append(sql[position:])
    if next(values, _MISSING) is not _MISSING:
        raise ValueError(f"part {index} has more parameters than placeholders")
    sql = "".join(pieces)
    if any(not 0 <= source < index for source in sources):
        raise ValueError(f"part {index} depends on a part that does not come before it")
    if not sources:
        return sql
    tables = ", ".join(f"w{source}" for source in sources)
    # Only compiled statements are joined here; every value is a parameter.
    insert = _INSERT.fullmatch(sql)
    if insert is not None:
        return f"{insert['head']} SELECT {insert['values']} FROM {tables}{insert['rest']}"  # noqa: S608
    update = _UPDATE.fullmatch(sql)
    if update is not None and "SELECT" not in update["head"]:
        return f"{update['head']} FROM {tables} WHERE {update['where']}"
    raise ValueError(f"part {index} depends on other parts but is neither INSERT nor UPDATE")


def returning(write: Write, columns: Sequence[str], using: str = DEFAULT_DB_ALIAS) -> Write:
    """`write`, an INSERT, returning `columns` in this order (instead of what it returned), for
    a `chain` whose final query reads them."""
    sql = _returning(write.sql, tuple(columns), connections[using].ops.quote_name)
    return Write(sql, write.params, write.done)


@lru_cache(maxsize=64)
def _returning(sql: str, columns: tuple, quote) -> str:
    insert = _INSERT.fullmatch(sql)
    if insert is None:
        raise ValueError(f"not an INSERT: {sql[:60]!r}")
    rest = re.sub(r" RETURNING .*$", "", insert["rest"], flags=re.DOTALL)
    listed = ", ".join(quote(column) for column in columns)
    return f"{insert['head']} VALUES ({insert['values']}){rest} RETURNING {listed}"


_CHANGED = Write("EXISTS (SELECT 1 FROM fs_condition)", [])  # `together_if`'s condition
# A single-row INSERT as Django compiles it: the table and columns, the values, then the rest.
_INSERT = re.compile(
    r"(?P<head>INSERT INTO \S+ \([^()]*\)) VALUES \((?P<values>.*)\)"
    r"(?P<rest>(?: ON CONFLICT [^()]*)?(?: RETURNING [^()]*)?)",
    re.DOTALL,
)


# An UPDATE as Django compiles it (no FROM of its own): up to its WHERE, then the conditions.
_UPDATE = re.compile(r"(?P<head>UPDATE \S+ SET .*?) WHERE (?P<where>.*)", re.DOTALL)


def guarded(write: Write, condition: Write) -> Write:
    """`write` made only where `condition`, an SQL boolean (e.g. `EXISTS (...)`), holds when it
    runs: an INSERT's VALUES become a SELECT with a WHERE (PostgreSQL types its literals by the
    target columns, as in VALUES), an UPDATE's, or a SELECT's, WHERE gets one more term. For the
    parts of `together_if` and `chain`; the condition's parameters follow the write's."""
    sql = _guarded(write.sql, condition.sql)
    return Write(sql, [*write.params, *condition.params], write.done, write.after)


@lru_cache(maxsize=128)
def _guarded(sql: str, condition: str) -> str:
    insert = _INSERT.fullmatch(sql)
    if insert:
        return f"{insert['head']} SELECT {insert['values']} WHERE {condition}{insert['rest']}"
    # Django parenthesises a WHERE of several terms: one more term is ANDed to all of them.
    where = sql.rpartition(" WHERE ")[2]
    if (
        sql.startswith(("UPDATE ", "SELECT "))
        and " WHERE " in sql
        and not any(clause in where for clause in _AFTER_WHERE)
    ):
        return f"{sql} AND {condition}"
    raise ValueError(f"cannot guard this statement: {sql[:60]!r}")


_AFTER_WHERE = (" RETURNING ", " ORDER BY ", " LIMIT ", " GROUP BY ", " OFFSET ", " FOR ")
