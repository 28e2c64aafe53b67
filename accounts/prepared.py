"""Reads whose SQL Django compiles once per connection, then runs with new values.

For the short statements of a registration, building and compiling a queryset costs more than
running it (py-spy on bench/registration.py: the ORM was 70 to 77 % of the time of the window
check and of the pending registration's reads). A `Prepared` read builds its queryset once with
probe values in place of its parameters, compiles it with Django's own compiler, finds where
each probe landed among the compiled parameters, and keeps the SQL; a call puts the values in
those places and runs it. Results come back as from `values_list`, through the same converters
(decryption, dates on SQLite).

The rules that make this safe: the queryset is a `values_list` (or, for `PreparedUpdate`, what
`update()` is given); its parameters are ints, strings or aware datetimes, which the ORM passes
through unchanged or adapts as `_as_param` does (primary keys, codes, tokens, times); anything
else is a constant of the query. Preparing compiles twice with different probes and fails
loudly unless the two agree on everything but the probes.
"""

import itertools
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.sql import UpdateQuery

from accounts.together import From, Write, cursor_for

_PROBES = {
    # Within every integer field's range (PostgreSQL's smallint too: a lookup out of range
    # compiles to nothing).
    int: (lambda i, round_: 20_000 + 1000 * round_ + i),
    str: (lambda i, round_: f"~fairslot-probe-{round_}-{i}~"),
    datetime: (lambda i, round_: datetime(1901, 1, 1, 0, round_, i, 123456, tzinfo=UTC)),
}


def _as_param(value, connection):
    """A value as the ORM passes it for a field of its type: ints and strings unchanged,
    aware datetimes as the backend stores them (unchanged on PostgreSQL, text on SQLite)."""
    if type(value) is datetime:
        return connection.ops.adapt_datetimefield_value(value)
    return value


class PreparedError(Exception):
    """The queryset does not compile to one SQL text whatever its parameters."""


class _Statement:
    def __init__(self, compiler, sql: str, params: list, slots: list[tuple[int, int]]):
        self.compiler, self.sql, self.params, self.slots = compiler, sql, params, slots
        # A read's columns go through their fields' converters; an update returns none.
        columns = [expression for expression, _sql, _alias in compiler.select or ()]
        self.converters = compiler.get_converters(columns[: getattr(compiler, "col_count", 0)])

    def converted(self, rows) -> list:
        """Rows as the ORM gives them (decrypted, dates converted)."""
        if not self.converters:
            return rows
        return list(self.compiler.apply_converters(rows, self.converters))


class Prepared:
    """`Prepared(build, int, str)`: `build(a, b)` returns a `values_list` queryset whose
    parameters are an int and a string; `.rows(1, "x")` runs it and returns the rows.
    Parameters may be ints, strings or aware datetimes."""

    def __init__(self, build, *kinds: type):
        if any(kind not in _PROBES for kind in kinds):
            raise PreparedError(f"parameters must be int, str or datetime, not {kinds}")
        self.build, self.kinds = build, kinds

    def rows(self, *args) -> list:
        statement, rows = self._run(args, fetch=True)
        return statement.converted(rows)

    def read(self, *args) -> Write:
        """The same read, not sent yet, as the final query of an `accounts.together.chain`
        (which may add to it): its result is the rows, as `rows` gives them."""
        statement, params = self._bound(args)
        return Write(statement.sql, params, lambda cursor: statement.converted(cursor.fetchall()))

    def _run(self, args, fetch: bool):
        statement, params = self._bound(args)
        with (
            transaction.mark_for_rollback_on_error(DEFAULT_DB_ALIAS),
            cursor_for(connections[DEFAULT_DB_ALIAS]) as cursor,
        ):
            cursor.execute(statement.sql, params)
            return statement, (cursor.fetchall() if fetch else cursor.rowcount)

    def _bound(self, args) -> tuple[_Statement, list]:
        if len(args) != len(self.kinds) or any(
            type(arg) is not kind and type(arg) is not From
            for arg, kind in zip(args, self.kinds, strict=False)
        ):
            raise TypeError(f"expected values of types {self.kinds}, got {args!r}")
        connection = connections[DEFAULT_DB_ALIAS]
        cache = connection.__dict__.setdefault("fairslot_prepared", {})
        statement = cache.get(self)
        if statement is None:
            statement = cache[self] = self._prepare(connection)
        params = list(statement.params)
        for position, index in statement.slots:
            params[position] = _as_param(args[index], connection)
        return statement, params

    def _query(self, probes):
        return self.build(*probes).query

    def _compile(self, connection, round_: int):
        probes = [_PROBES[kind](i, round_) for i, kind in enumerate(self.kinds)]
        compiler = self._query(probes).get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        return compiler, sql, list(params), [_as_param(p, connection) for p in probes]

    def _prepare(self, connection) -> _Statement:
        compiler, sql, params, probes = self._compile(connection, 1)
        _, other_sql, other_params, other_probes = self._compile(connection, 2)
        if sql != other_sql or len(params) != len(other_params):
            raise PreparedError("the SQL depends on the values of the parameters")
        slots = []
        for position, (value, other) in enumerate(zip(params, other_params, strict=True)):
            if value == other:
                continue  # a constant of the query
            index = next((i for i, probe in enumerate(probes) if value == probe), None)
            if index is None or other != other_probes[index]:
                raise PreparedError(f"parameter {position} is neither a constant nor a value")
            slots.append((position, index))
        if {index for _, index in slots} != set(range(len(self.kinds))):
            raise PreparedError("a parameter does not reach the SQL unchanged")
        return _Statement(compiler, sql, params, slots)


class PreparedUpdate(Prepared):
    """`PreparedUpdate(build, int, datetime)`: `build(a, b)` returns `(queryset, values)`, what
    `queryset.update(**values)` would be given; `.update(1, now)` runs it and returns the
    number of rows changed. Inside the caller's transaction, like `QuerySet.update`. For
    `write`, a value may be an `accounts.together.From` (a value written by another part of a
    `chain`)."""

    def update(self, *args) -> int:
        return self._run(args, fetch=False)[1]

    def write(self, *args) -> Write:
        """The same update, not sent yet, for `accounts.together`: its result is the number of
        rows changed."""
        statement, params = self._bound(args)
        return Write(statement.sql, params)

    def _query(self, probes):
        queryset, values = self.build(*probes)
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        query.annotations = {}
        if query.related_updates:
            raise PreparedError("updates of parent models are not prepared")
        return query


class Joined:
    """Rows of a model and of models joined to it, read with `values_list` and made into
    instances: `Joined(Pending, ("contact", Contact))` names the columns to read and splits a row
    into a Pending and its Contact (None when a LEFT JOIN found no row). `omit` names fields
    not to read (e.g. encrypted ones a request does not need): they are deferred, as with
    `.only()`, and load on use."""

    def __init__(self, model, *related: tuple[str, type], omit: dict | None = None):
        self.parts = [("", model), *related]
        omit = omit or {}
        self.attnames = {
            m: [f.attname for f in m._meta.concrete_fields if f.name not in omit.get(m, ())]
            for _p, m in self.parts
        }
        self.pk_index = {m: names.index(m._meta.pk.attname) for m, names in self.attnames.items()}

    def names(self) -> list[str]:
        return [
            f"{path}__{name}" if path else name
            for path, model in self.parts
            for name in self.attnames[model]
        ]

    def split(self, row) -> list:
        objects, values = [], iter(row)
        for _path, model in self.parts:
            names = self.attnames[model]
            chunk = list(itertools.islice(values, len(names)))
            missing = chunk[self.pk_index[model]] is None  # a LEFT JOIN that found no row
            objects.append(None if missing else model.from_db(DEFAULT_DB_ALIAS, names, chunk))
        return objects
