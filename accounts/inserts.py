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

from django.db import router, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict


def insert_or_skip(obj: Model) -> bool:
    """Insert `obj` unless a unique constraint already holds a conflicting row.

    True: inserted, and `obj` is saved (pk and database-returned fields set). False: nothing
    was written. Like `bulk_create`, sends no `pre_save`/`post_save` signals."""
    model = type(obj)
    opts = obj._meta
    using = router.db_for_write(model, instance=obj)
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if obj.pk is None:
        fields = [f for f in fields if f is not opts.auto_field]
    returning = opts.db_returning_fields
    with transaction.mark_for_rollback_on_error(using):
        # Django's own bulk_create goes through `_insert` for ON CONFLICT; the public API
        # cannot return the primary key of an ignored-conflict insert.
        rows = model._base_manager.using(using)._insert(
            [obj], fields=fields, returning_fields=returning, on_conflict=OnConflict.IGNORE
        )
    if not rows:
        return False
    for value, field in zip(rows[0], returning, strict=True):
        setattr(obj, field.attname, value)
    obj._state.adding = False
    obj._state.db = using
    return True


def one_or_none(queryset):
    """The row of a lookup on a unique key, or None: `.first()` without its ORDER BY, which
    such a lookup does not need (and which costs compiling on every request)."""
    return next(iter(queryset[:1]), None)
