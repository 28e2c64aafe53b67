"""Inserts through a statement compiled once per model and columns (accounts.inserts)."""

from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models.functions import Now
from django.db.models.sql.compiler import SQLInsertCompiler
from django.test.utils import CaptureQueriesContext

from accounts.inserts import insert, insert_or_skip
from accounts.models import AuditEvent, OutboxMessage


@pytest.fixture
def compiled(monkeypatch):
    """Counts the INSERT statements Django compiles."""
    calls = []
    real = SQLInsertCompiler.as_sql

    def counted(self):
        calls.append(self.query.model)
        return real(self)

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", counted)
    connections["default"].__dict__.pop("fairslot_inserts", None)  # an empty cache
    return calls


def _message(key: str, **fields) -> OutboxMessage:
    return OutboxMessage(channel="phone", recipient="+33612345678", body=f"b-{key}",
                         dedup_key=key, **fields)  # fmt: skip


def test_rows_of_one_model_reuse_one_compiled_statement(db, compiled):
    with CaptureQueriesContext(connection) as queries:
        first, second = _message("i1"), _message("i2")
        assert insert_or_skip(first) and insert_or_skip(second)

    assert compiled == [OutboxMessage]  # compiled for the first row only
    assert queries[0]["sql"].split("VALUES")[0] == queries[1]["sql"].split("VALUES")[0]
    assert first.pk and second.pk and first.pk != second.pk
    assert {m.dedup_key: m.body for m in OutboxMessage.objects.all()} == {
        "i1": "b-i1",
        "i2": "b-i2",
    }


def test_values_are_prepared_per_row_as_the_orm_would(db, compiled):
    row = _message("i3")
    assert insert_or_skip(row)
    later = _message("i4")
    assert insert_or_skip(later)

    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM accounts_outboxmessage WHERE dedup_key = 'i4'")
        (stored,) = cursor.fetchone()
    assert stored != "b-i4"  # encrypted by the field, as with save()
    assert OutboxMessage.objects.get(dedup_key="i4").body == "b-i4"
    assert row.created_at is not None and later.created_at >= row.created_at  # auto_now_add


def test_the_saved_object_holds_the_stored_values_on_first_use_too(db, compiled):
    row = _message("i9")  # the cache is empty: this insert compiles its statement
    assert insert_or_skip(row)

    stored = OutboxMessage.objects.get(pk=row.pk)
    assert (row.created_at, row.next_attempt_at) == (stored.created_at, stored.next_attempt_at)


def test_the_kept_statement_does_not_keep_the_first_row(db, compiled):
    assert insert_or_skip(_message("i10"))

    kept = connections["default"].__dict__["fairslot_inserts"]
    assert kept and all(statement.compiler.query.objs == [] for statement in kept.values())


def test_a_conflict_inserts_nothing_and_says_so(db, compiled):
    assert insert_or_skip(_message("i5"))
    again = _message("i5")

    assert insert_or_skip(again) is False
    assert again.pk is None
    assert OutboxMessage.objects.filter(dedup_key="i5").count() == 1


def test_a_row_with_an_expression_gets_its_own_statement(db, compiled):
    assert insert_or_skip(_message("i6"))
    due = _message("i7", expires_at=Now() + timedelta(minutes=10))
    assert insert_or_skip(due)
    assert insert_or_skip(_message("i8"))  # the cached statement is still the plain one

    assert compiled == [OutboxMessage, OutboxMessage]
    assert OutboxMessage.objects.get(dedup_key="i7").expires_at is not None
    assert OutboxMessage.objects.get(dedup_key="i8").expires_at is None


def test_insert_writes_an_append_only_row(db):
    event = AuditEvent(action="test.inserted", target_type="x", target_id="1", data={"n": 1})
    insert(event)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.data) == ("test.inserted", {"n": 1})
    assert stored.at is not None
