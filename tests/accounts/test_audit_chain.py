"""The audit log's hash chain: every row names its actor, follows the one before in commit order,
and `verify_audit_log` names the first row edited, deleted, inserted or back-dated."""

import threading
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from accounts import audit
from accounts.models import AuditEvent, AuditHead
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _verify() -> str:
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def _broken() -> str:
    with pytest.raises(CommandError) as raised:
        _verify()
    assert raised.value.returncode == 1
    return str(raised.value)


@contextmanager
def _tampering():
    """What an attacker with the database owner's rights does: on PostgreSQL, switch the
    append-only trigger off first (SQLite has none)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: ALTER TABLE allowed
        cursor.execute("ALTER TABLE accounts_auditevent DISABLE TRIGGER USER")
        try:
            yield
        finally:
            cursor.execute("ALTER TABLE accounts_auditevent ENABLE TRIGGER USER")


def _five_rows() -> list[AuditEvent]:
    return [audit.record("test.step", n=n) for n in range(5)]


def test_rows_are_numbered_chained_and_never_go_back_in_time():
    rows = _five_rows()

    stored = list(AuditEvent.objects.order_by("seq"))
    assert [row.seq for row in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == ""
    assert [row.prev_hash for row in stored[1:]] == [audit.row_hash(row) for row in stored[:-1]]
    assert all(a.at <= b.at for a, b in pairwise(stored))
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (5, audit.row_hash(stored[-1]))
    assert [row.pk for row in rows] == [row.pk for row in stored]


def test_a_row_names_its_actor_or_is_refused():
    staff = StaffFactory()

    by_user = audit.record("test.by_user", actor=staff)
    by_label = audit.record("test.by_label", actor="applicant")
    by_task = audit.record("test.by_task")  # the autouse fixture acts as "pytest"

    assert (by_user.actor_id, by_user.actor_label) == (staff.pk, staff.username)
    assert (by_label.actor_id, by_label.actor_label) == (None, "applicant")
    assert by_task.actor_label == "pytest"
    with audit.acting_as(""), pytest.raises(ValueError, match="names no actor"):
        audit.record("test.nobody")
    assert AuditEvent.objects.filter(action="test.nobody").count() == 0


def test_the_data_is_hashed_as_it_is_read_back():
    from datetime import date

    audit.record("test.dated", day=date(2030, 1, 2), ids=(1, 2))

    row = AuditEvent.objects.get(action="test.dated")
    assert row.data == {"day": "2030-01-02", "ids": [1, 2]}
    assert "intact: 1 rows" in _verify()


def test_verify_passes_on_an_intact_log_and_on_an_empty_one():
    assert "intact: 0 rows" in _verify()

    _five_rows()

    assert _verify() == f"audit log intact: 5 rows, head {AuditHead.objects.get().hash}\n"


def test_verify_names_an_edited_row():
    _five_rows()

    with _tampering():
        AuditEvent.objects.filter(seq=3).update(action="test.innocent")

    assert "row #4: does not follow #3" in _broken()


def test_verify_names_an_edited_last_row():
    _five_rows()

    with _tampering():
        AuditEvent.objects.filter(seq=5).update(data={"n": 99})

    assert "row #5: edited" in _broken()


def test_verify_names_a_deleted_row():
    _five_rows()

    with _tampering():
        AuditEvent.objects.filter(seq=2).delete()

    assert "row #2: missing: the chain jumps from #1 to #3" in _broken()


def test_verify_names_rows_cut_from_the_end():
    _five_rows()

    with _tampering():
        AuditEvent.objects.filter(seq__gte=4).delete()

    assert "row #4: missing: the log ends at #3, its head is #5" in _broken()


def test_verify_names_a_back_dated_insert():
    _five_rows()
    last = AuditEvent.objects.get(seq=5)

    forged = AuditEvent(
        seq=6,
        prev_hash=audit.row_hash(last),
        at=last.at - timedelta(days=2),
        actor_label="agent_x",
        action="entry.registered",
    )
    forged.save()

    assert "row #6: back-dated" in _broken()


def test_verify_names_an_insert_made_outside_the_service():
    _five_rows()
    last = AuditEvent.objects.get(seq=5)

    AuditEvent(
        seq=6, prev_hash=audit.row_hash(last), at=last.at, actor_label="x", action="x"
    ).save()

    assert "row #6: written outside the audit service" in _broken()


def test_a_consistent_rewrite_is_caught_by_a_published_head(settings):
    from datetime import date

    _five_rows()
    audit.publish_head(day=date(2030, 1, 1))
    audit.record("test.later")

    # The attacker edits row 2 and recomputes every hash after it, head included.
    with _tampering():
        AuditEvent.objects.filter(seq=2).update(data={"n": 42})
        previous = audit.row_hash(AuditEvent.objects.get(seq=2))
        for row in AuditEvent.objects.filter(seq__gt=2).order_by("seq"):
            AuditEvent.objects.filter(pk=row.pk).update(prev_hash=previous)
            row.prev_hash = previous
            previous = audit.row_hash(row)
        AuditHead.objects.update(hash=previous)

    assert "row #5: differs from the head published for it" in _broken()


def test_publish_head_is_once_a_day_and_shown_on_the_draws_page(client):
    from datetime import date

    _five_rows()

    first = audit.publish_head(day=date(2030, 1, 1))
    audit.record("test.later")
    again = audit.publish_head(day=date(2030, 1, 1))

    assert (again.seq, again.hash) == (first.seq, first.hash) == (5, first.hash)
    assert first.hash in client.get("/draws/").content.decode()


@pytest.mark.postgres
def test_concurrent_writers_make_one_unbroken_chain(transactional_db):
    errors = []

    def write(n: int) -> None:
        try:
            with audit.acting_as("thread"):
                for i in range(10):
                    with transaction.atomic():
                        audit.record("test.concurrent", n=n, i=i)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AuditEvent.objects.count() == 80
    assert "intact: 80 rows" in _verify()


@pytest.mark.postgres
def test_the_application_role_cannot_update_delete_or_truncate():
    audit.record("test.kept")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE fails for that reason
        cursor.execute("CREATE ROLE fairslot_app_probe NOLOGIN")
        cursor.execute("GRANT ALL ON accounts_auditevent TO fairslot_app_probe")

    for statement in (
        "UPDATE accounts_auditevent SET action = 'x'",
        "DELETE FROM accounts_auditevent",
        "TRUNCATE accounts_auditevent",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL ROLE fairslot_app_probe")
            cursor.execute(statement)

    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.kept"]
