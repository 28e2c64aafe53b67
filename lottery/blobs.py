"""The draw's files (entries.csv, slots.csv, results.csv: about 70 and 110 MB for a million
entries) in and out of their bytea columns.

Django's psycopg backend binds parameters on the client: bytes travel as an escaped hex literal
twice their size, which PostgreSQL then parses (9 s to store 110 MB here), and come back as hex
text (2.9 s to read them). On PostgreSQL these helpers use a server-side-binding psycopg cursor
on the same connection, hence in the same transaction, with the bytes sent and read in binary
format (1.6 s and 0.5 s). Elsewhere (SQLite, the embedded default) they go through the ORM.

The `Draw` manager defers these columns, so that loading a draw never reads them by accident.
"""

from django.db import connection

BLOB_FIELDS = ("entries_csv", "slots_csv", "results_csv")


def read(instance, *names: str) -> tuple[bytes | None, ...]:
    """The named binary fields of a saved instance, read from the database now."""
    _check(names)
    model = type(instance)
    if connection.vendor != "postgresql":
        values = model._base_manager.filter(pk=instance.pk).values_list(*names).get()
        return tuple(None if v is None else bytes(v) for v in values)
    import psycopg

    connection.ensure_connection()
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608
            "WHERE id = %s",
            [instance.pk],
            binary=True,
        )
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone.")
    return tuple(None if v is None else bytes(v) for v in row)


def write(instance, *, cursor=None, **values: bytes | None) -> None:
    """Store the given binary fields of a saved instance (in the current transaction). On
    PostgreSQL, `cursor` may be a psycopg cursor of the connection to use (from a thread of
    lottery.background, where Django's `connection` would be another connection)."""
    _check(values)
    model = type(instance)
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
            f"UPDATE {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608
            f"SET {assignments} WHERE id = %s",
            [*(values[n] for n in names), instance.pk],
        )
        if binary.rowcount != 1:
            raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone.")


def _check(names) -> None:
    unknown = set(names) - set(BLOB_FIELDS)
    if unknown or not names:
        raise ValueError(f"Not a draw file field: {sorted(unknown) or 'none given'}")
