"""`INSERT ... ON CONFLICT DO NOTHING RETURNING`, for inserts where a conflict is expected, and
`one_or_none`, the read by a unique key that goes with it.

The usual `try: with atomic(): create() except IntegrityError` costs a SAVEPOINT and a RELEASE
around every insert, and a rollback to the savepoint on a conflict. Here a conflict with any
unique constraint (partial ones included) simply inserts nothing, in one statement. On
PostgreSQL, if the conflicting row belongs to a transaction still in progress, the insert waits
for it to end, so a read that follows sees the winner's row (READ COMMITTED). Check constraints
and foreign keys still raise there. (On SQLite, the embedded default, Django writes
`INSERT OR IGNORE`, which also skips NOT NULL and CHECK violations: validate values first.)
"""

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from accounts.together import Write, together


def insert_or_skip(obj: Model) -> bool:
    """Insert `obj` unless a unique constraint already holds a conflicting row.

    True: inserted, and `obj` is saved (pk and database-returned fields set). False: nothing
    was written. Like `bulk_create`, sends no `pre_save`/`post_save` signals."""
    return together(insert_write(obj, OnConflict.IGNORE), using=_using(obj))


def insert(obj: Model) -> None:
    """Insert `obj` (a row that cannot conflict, e.g. an audit event): `save(force_insert=True)`
    without the signals, through the same compiled statement."""
    together(insert_write(obj), using=_using(obj))


def _using(obj: Model) -> str:
    return router.db_for_write(type(obj), instance=obj)


def insert_write(obj: Model, on_conflict=None, links: dict | None = None) -> Write:
    """The insert of `obj`, not sent yet (see `accounts.together`); with `on_conflict` it
    inserts nothing on a conflict. Its result, when it is the last part: True if inserted,
    and then `obj` is saved (pk and database-returned fields set). Another part's row stays
    unsaved in memory (no pk) though it is written. `links` (attname to
    `accounts.together.From`): columns whose values another part of a `chain` writes, e.g.
    the key of a row inserted in the same statement."""
    model = type(obj)
    opts = obj._meta
    using = _using(obj)
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if obj.pk is None:
        fields = [f for f in fields if f is not opts.auto_field]
    returning = opts.db_returning_fields
    connection = connections[using]
    statement = _statement(connection, model, fields, returning, on_conflict, obj)
    params = statement.params  # a statement of its own holds its row's values
    if params is None:  # as the compiler prepares them (auto_now fields set on `obj`)
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    if links:
        params = [links.get(f.attname, value) for f, value in zip(fields, params, strict=True)]

    def done(cursor) -> bool:
        rows = statement.returned(cursor)
        if not rows:
            return False
        for value, field in zip(rows[0], returning, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = using
        return True

    return Write(statement.sql, params, done)


class _Statement:
    """An INSERT compiled by Django's own compiler, kept for the next rows of the same model
    and columns: compiling it again on every request (most of a request's inserts) costs more
    than running it. Only rows without expressions (or database defaults) in their values
    reuse it; their SQL does not depend on the values. Kept per connection object, i.e. per
    thread and database, with the compiler that knows its returned columns' converters."""

    def __init__(self, compiler, sql: str, returning, params=None):
        self.compiler, self.sql = compiler, sql
        self.params = params  # None: the row's own values, prepared for its columns
        self.cols = [field.get_col(compiler.query.get_meta().db_table) for field in returning]
        self.converters = compiler.get_converters(self.cols)

    def returned(self, cursor) -> list:
        if not self.cols:
            return []
        rows = self.compiler.connection.ops.fetch_returned_rows(
            cursor, self.compiler.returning_params
        )
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        return list(rows)


def _statement(connection, model, fields, returning, on_conflict, obj) -> _Statement:
    cacheable = not any(hasattr(getattr(obj, f.attname), "resolve_expression") for f in fields)
    key = (model, tuple(f.attname for f in fields), on_conflict)
    cache = connection.__dict__.setdefault("fairslot_inserts", {})
    if cacheable and key in cache:
        return cache[key]
    query = InsertQuery(model, on_conflict=on_conflict)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = returning
    [(sql, params)] = compiler.as_sql()
    query.objs = []  # the kept compiler must not keep this row (personal data) alive
    if not cacheable:  # expressions: this statement's SQL and parameters are its own
        return _Statement(compiler, sql, returning, params)
    cache[key] = _Statement(compiler, sql, returning)
    return cache[key]


def one_or_none(queryset):
    """The row of a lookup on a unique key, or None: `.first()` without its ORDER BY, which
    such a lookup does not need (and which costs compiling on every request)."""
    return next(iter(queryset[:1]), None)
