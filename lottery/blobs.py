"""The draw's files (entries.csv, slots.csv, results.csv: about 70 and 110 MB for a million
entries) in and out of their bytea columns.

Django's psycopg backend binds parameters on the client: bytes travel as an escaped hex literal
twice their size, which PostgreSQL then parses (9 s to store 110 MB here), and come back as hex
text (2.9 s to read them). On PostgreSQL these helpers use a server-side-binding psycopg cursor
on the same connection, hence in the same transaction, with the bytes sent and read in binary
format (1.6 s and 0.5 s). Elsewhere (SQLite, the embedded default) they go through the ORM.

The `Draw` manager defers these columns, so that loading a draw never reads them by accident.
The same helpers serve any binary field (the stored replay kit), and `read_range`/`chunks` read
part of one (a page of results, a streamed download) without the rest.
"""

from django.db import connection, models
from django.db.models.functions import Length

BLOB_FIELDS = ("entries_csv", "slots_csv", "results_csv")


def read(instance, *names: str) -> tuple[bytes | None, ...]:
    """The named binary fields of a saved instance, read from the database now."""
    model = type(instance)
    _check(model, names)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    sql = f"SELECT {columns} FROM {_table(model)} WHERE id = %s"  # noqa: S608 (model names)
    row = _select_row(sql, [instance.pk])
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone.")
    return tuple(None if v is None else bytes(v) for v in row)


def read_range(instance, name: str, start: int, length: int) -> bytes:
    """`length` bytes of a binary field from offset `start` (0-based), read by the database
    (a page of results.csv without the rest of the file)."""
    model = type(instance)
    _check(model, [name])
    column = connection.ops.quote_name(model._meta.get_field(name).column)
    row = _select_row(
        f"SELECT substr({column}, CAST(%s AS integer), CAST(%s AS integer)) "  # noqa: S608
        f"FROM {_table(model)} WHERE id = %s",
        [start + 1, length, instance.pk],
    )
    if row is None or row[0] is None:
        raise model.DoesNotExist(f"{model.__name__} {instance.pk} has no {name}.")
    return bytes(row[0])


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _select_row(sql: str, params: list) -> tuple | None:
    """One row of a query on the current connection (same transaction); on PostgreSQL through
    a server-side-binding cursor, the bytes in binary (see above)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchone()


def size(instance, name: str) -> int:
    """The length in bytes of a binary field (0 if it is empty or null)."""
    model = type(instance)
    _check(model, [name])
    length = model._base_manager.filter(pk=instance.pk).values_list(Length(name), flat=True)
    return length.get() or 0


def chunks(instance, name: str, size: int, chunk: int = 1 << 20):
    """The `size` bytes of a binary field, read `chunk` bytes at a time (a download streamed
    without holding the whole file in memory)."""
    for start in range(0, size, chunk):
        yield read_range(instance, name, start, min(chunk, size - start))


def write(instance, *, cursor=None, **values: bytes | None) -> None:
    """Store the given binary fields of a saved instance (in the current transaction). On
    PostgreSQL, `cursor` may be a psycopg cursor of the connection to use (from a thread of
    lottery.background, where Django's `connection` would be another connection)."""
    model = type(instance)
    _check(model, values)
    if connection.vendor != "postgresql":
        if model._base_manager.filter(pk=instance.pk).update(**values) != 1:
            raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone.")
        return
    import psycopg

    if cursor is None:
        connection.ensure_connection()
    raw = connection.connection if cursor is None else cursor.connection
    names = list(values)
    assignments = ", ".join(
        f"{connection.ops.quote_name(model._meta.get_field(n).column)} = %b" for n in names
    )
    with psycopg.Cursor(raw) as binary:
        binary.execute(
            f"UPDATE {_table(model)} "  # noqa: S608
            f"SET {assignments} WHERE id = %s",
            [*(values[n] for n in names), instance.pk],
        )
        if binary.rowcount != 1:
            raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone.")


def _check(model, names) -> None:
    binary = {f.name for f in model._meta.get_fields() if isinstance(f, models.BinaryField)}
    unknown = set(names) - binary
    if unknown or not names:
        raise ValueError(f"Not a binary field of {model.__name__}: {sorted(unknown) or 'none'}")
