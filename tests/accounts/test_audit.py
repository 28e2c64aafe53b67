import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts import audit
from accounts.models import AuditEvent


def test_audit_event_refuses_update_and_delete(db):
    event = audit.record("test.action", code="X")

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).data == {"code": "X"}


@pytest.mark.postgres
def test_audit_table_refuses_sql_update_on_postgres(db):
    event = audit.record("test.action")

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE accounts_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"
