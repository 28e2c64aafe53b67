"""Independent writes sent together: one statement on PostgreSQL, one by one elsewhere
(accounts.together)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.constants import OnConflict
from django.test.utils import CaptureQueriesContext

from accounts import audit
from accounts.inserts import insert_or_skip, insert_write
from accounts.models import AuditEvent, OutboxMessage, OutboxState
from accounts.prepared import PreparedUpdate
from accounts.together import together, together_if

_SENT = PreparedUpdate(
    lambda key: (OutboxMessage.objects.filter(dedup_key=key), {"state": OutboxState.SENT}), str
)


def _message(key: str) -> OutboxMessage:
    return OutboxMessage(channel="phone", recipient="+33612345678", body="b", dedup_key=key)


def test_every_write_is_made_and_the_last_result_comes_back(db):
    insert_or_skip(_message("t0"))
    last = _message("t1")

    with CaptureQueriesContext(connection) as queries:
        inserted = together(
            _SENT.write("t0"),
            audit.write("test.together", note="x"),
            insert_write(last, OnConflict.IGNORE),
        )

    assert inserted is True and last.pk is not None  # the last part's result, applied
    assert OutboxMessage.objects.get(dedup_key="t0").state == OutboxState.SENT
    assert AuditEvent.objects.get(action="test.together").data == {"note": "x"}
    assert OutboxMessage.objects.get(pk=last.pk).dedup_key == "t1"
    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)


def test_a_conflict_on_the_last_part_says_so_and_the_others_are_still_written(db):
    insert_or_skip(_message("t2"))

    again = together(audit.write("test.conflict"), insert_write(_message("t2"), OnConflict.IGNORE))

    assert again is False
    assert AuditEvent.objects.filter(action="test.conflict").count() == 1
    assert OutboxMessage.objects.filter(dedup_key="t2").count() == 1


def test_an_update_last_returns_its_row_count(db):
    insert_or_skip(_message("t3"))

    assert together(audit.write("test.update"), _SENT.write("t3")) == 1
    assert together(audit.write("test.update"), _SENT.write("nothing")) == 0


def test_an_error_in_any_part_writes_nothing_of_the_transaction(db):
    insert_or_skip(_message("t4"))

    with pytest.raises(IntegrityError), transaction.atomic():
        together(
            audit.write("test.failed"),
            insert_write(_message("t4")),  # no ON CONFLICT: the dedup key's unique constraint
            _SENT.write("t4"),
        )

    assert not AuditEvent.objects.filter(action="test.failed").exists()
    assert OutboxMessage.objects.get(dedup_key="t4").state == OutboxState.PENDING


def test_one_write_alone_is_sent_as_it_is(db):
    with CaptureQueriesContext(connection) as queries:
        assert together(insert_write(_message("t5"), OnConflict.IGNORE)) is True

    assert len(queries) == 1 and not queries[0]["sql"].startswith("WITH")


# --- together_if: writes only if a conditional UPDATE changed a row ----------------------------

_CLAIM = PreparedUpdate(
    lambda key: (
        OutboxMessage.objects.filter(dedup_key=key, state=OutboxState.PENDING),
        {"state": OutboxState.SENDING},
    ),
    str,
)


def test_writes_follow_a_condition_that_changed_a_row(db):
    insert_or_skip(_message("c1"))
    insert_or_skip(_message("c2"))

    with CaptureQueriesContext(connection) as queries:
        changed = together_if(
            _CLAIM.write("c1"),
            audit.write("test.claimed"),
            _SENT.write("c2"),
            insert_write(_message("c3"), OnConflict.IGNORE),
        )

    assert changed == 1
    assert OutboxMessage.objects.get(dedup_key="c1").state == OutboxState.SENDING
    assert OutboxMessage.objects.get(dedup_key="c2").state == OutboxState.SENT
    assert AuditEvent.objects.filter(action="test.claimed").count() == 1
    assert OutboxMessage.objects.filter(dedup_key="c3").exists()
    if connection.vendor == "postgresql":
        assert len(queries) == 1


def test_nothing_is_written_when_the_condition_changed_no_row(db):
    insert_or_skip(_message("c4"))
    OutboxMessage.objects.filter(dedup_key="c4").update(state=OutboxState.SENT)

    changed = together_if(
        _CLAIM.write("c4"),  # not pending any more
        audit.write("test.not-claimed"),
        insert_write(_message("c5"), OnConflict.IGNORE),
    )

    assert changed == 0
    assert not AuditEvent.objects.filter(action="test.not-claimed").exists()
    assert not OutboxMessage.objects.filter(dedup_key="c5").exists()


def test_an_error_in_a_guarded_write_undoes_the_condition(db):
    insert_or_skip(_message("c6"))

    with pytest.raises(IntegrityError), transaction.atomic():
        together_if(_CLAIM.write("c6"), insert_write(_message("c6")))  # the dedup key, again

    assert OutboxMessage.objects.get(dedup_key="c6").state == OutboxState.PENDING


def test_only_inserts_and_updates_or_reads_ending_with_a_where_can_be_guarded():
    from accounts.together import Write, guarded

    condition = Write("EXISTS (SELECT 1 FROM w WHERE x = %s)", [9])
    for refused in (
        'DELETE FROM "t" WHERE "id" = %s',
        'UPDATE "t" SET "a" = %s',
        'UPDATE "t" SET "a" = %s WHERE "id" = %s RETURNING "id"',
        'SELECT "a" FROM "t" WHERE "id" = %s ORDER BY "a"',
        'SELECT "a" FROM "t" WHERE "id" = %s FOR UPDATE',
    ):
        with pytest.raises(ValueError):
            guarded(Write(refused, [1]), condition)
    insert = guarded(
        Write('INSERT INTO "t" ("a", "b") VALUES (%s, %s) ON CONFLICT DO NOTHING', [1, 2]),
        condition,
    )
    update = guarded(Write('UPDATE "t" SET "a" = %s WHERE ("id" = %s OR "b")', [1, 2]), condition)

    assert insert.sql == (
        'INSERT INTO "t" ("a", "b") SELECT %s, %s WHERE EXISTS (SELECT 1 FROM w WHERE x = %s) '
        "ON CONFLICT DO NOTHING"
    )
    assert update.sql.endswith('WHERE ("id" = %s OR "b") AND EXISTS (SELECT 1 FROM w WHERE x = %s)')
    assert insert.params == update.params == [1, 2, 9]


# --- chain: a row and the rows that refer to it, in one statement (PostgreSQL) -----------------


def _user_contact_parts(username: str, value_hash: str):
    from django.contrib.auth import get_user_model

    from accounts.models import Contact
    from accounts.together import From

    user = get_user_model()(username=username)
    contact = Contact(kind="phone", value="+33612345678", value_hash=value_hash)
    return (
        insert_write(user, OnConflict.IGNORE),
        insert_write(contact, links={"user_id": From(0)}),
    )


def _ids(cursor) -> list:
    return cursor.fetchall()


@pytest.mark.postgres
def test_chain_writes_a_row_and_the_rows_that_refer_to_it_in_one_statement(db):
    from accounts.models import Contact
    from accounts.together import Write, chain

    with CaptureQueriesContext(connection) as queries:
        rows = chain(
            *_user_contact_parts("chain-1", "h" * 64),
            final=Write("SELECT w0.id, w1.id FROM w0, w1", [], _ids),
        )

    ((user_id, contact_id),) = rows
    assert Contact.objects.get(pk=contact_id).user_id == user_id
    assert len(queries) == 1


@pytest.mark.postgres
def test_chain_writes_no_dependent_row_when_the_first_meets_a_conflict(db):
    from django.contrib.auth import get_user_model

    from accounts.models import Contact
    from accounts.together import Write, chain

    get_user_model().objects.create(username="chain-2")

    rows = chain(
        *_user_contact_parts("chain-2", "i" * 64),
        final=Write("SELECT w0.id, w1.id FROM w0, w1", [], _ids),
    )

    assert rows == []
    assert not Contact.objects.filter(value_hash="i" * 64).exists()


@pytest.mark.postgres
def test_an_error_in_a_chained_part_writes_nothing(db):
    from django.contrib.auth import get_user_model

    from accounts.together import Write, chain

    parts = _user_contact_parts("chain-3", "j" * 64)
    duplicate = _user_contact_parts("chain-3b", "j" * 64)  # the same contact: unique hash
    chain(*parts, final=Write("SELECT 1", [], _ids))

    with pytest.raises(IntegrityError), transaction.atomic():
        chain(*duplicate, final=Write("SELECT 1", [], _ids))

    assert not get_user_model().objects.filter(username="chain-3b").exists()


def test_chain_refuses_what_it_cannot_link(db):
    from accounts.together import From, Write, _linked, _shape, chain, chains

    def linked(write, index):
        return _linked(*_shape(write), index, connection.ops.quote_name)

    with pytest.raises(ValueError):  # a value from a part that comes later
        linked(Write('INSERT INTO "t" ("a") VALUES (%s)', [From(1)]), 0)
    with pytest.raises(ValueError):  # only inserts take values from other parts
        linked(Write('DELETE FROM "t" WHERE "a" = %s', [From(0)]), 1)
    with pytest.raises(ValueError):  # more values than placeholders
        linked(Write('INSERT INTO "t" ("a") VALUES (%s)', [1, 2]), 0)
    with pytest.raises(ValueError):  # more values than placeholders, the last one None
        linked(Write('INSERT INTO "t" ("a") VALUES (%s)', [1, None]), 0)
    with pytest.raises(ValueError):  # fewer values than placeholders
        linked(Write('INSERT INTO "t" ("a", "b") VALUES (%s, %s)', [1]), 0)
    sql = linked(Write('INSERT INTO "t" ("a", "b") VALUES (%s, %s)', [From(0), 7]), 1)
    assert sql == 'INSERT INTO "t" ("a", "b") SELECT w0."id", %s FROM w0'
    if not chains():
        with pytest.raises(NotImplementedError):
            chain(Write("SELECT 1", []), final=Write("SELECT 1", []))


def test_a_guarded_insert_last_is_saved_with_its_key(db):
    insert_or_skip(_message("s1"))
    last = _message("s2")

    made = together_if(
        _CLAIM.write("s1"), audit.write("test.saved"), insert_write(last), last_saved=True
    )
    other = _message("s3")
    again = together_if(_CLAIM.write("s1"), insert_write(other), last_saved=True)  # claimed

    assert made == 1 and last.pk == OutboxMessage.objects.get(dedup_key="s2").pk
    assert again == 0 and other.pk is None
    assert not OutboxMessage.objects.filter(dedup_key="s3").exists()


_ATTEMPTS = PreparedUpdate(
    lambda key, count: (OutboxMessage.objects.filter(dedup_key=key), {"attempts": count}),
    str,
    int,
)


@pytest.mark.postgres
def test_chain_updates_with_a_value_another_part_wrote_and_waits_on_parts(db):
    from dataclasses import replace

    from accounts.together import From, Write, chain

    insert_or_skip(_message("u1"))
    insert_or_skip(_message("u3"))

    new = _message("u2")
    rows = chain(
        insert_write(new, OnConflict.IGNORE),
        _ATTEMPTS.write("u1", From(0)),
        replace(audit.write("test.after"), after=(0,)),
        final=Write("SELECT id FROM w0", [], lambda cursor: cursor.fetchall()),
    )
    conflict = chain(
        insert_write(_message("u3"), OnConflict.IGNORE),  # there already: no row
        _ATTEMPTS.write("u1", From(0)),
        replace(audit.write("test.not-after"), after=(0,)),
        final=Write("SELECT id FROM w0", [], lambda cursor: cursor.fetchall()),
    )

    ((new_id,),) = rows
    assert OutboxMessage.objects.get(dedup_key="u1").attempts == new_id
    assert AuditEvent.objects.filter(action="test.after").count() == 1
    assert conflict == []
    assert not AuditEvent.objects.filter(action="test.not-after").exists()
