"""The PostgreSQL backend checks a reused connection only when it has been idle a while."""

import pytest
from django.db import close_old_connections, connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def checks(monkeypatch):
    """Counts the health checks (`SELECT 1` on the raw connection, unseen by Django's cursor)."""
    made = []
    real = connection.is_usable

    def counted():
        made.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    monkeypatch.setattr(connection, "health_check_enabled", True)
    return made


def _request():
    close_old_connections()  # what Django runs when a request starts (and when it ends)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42")
        return cursor.fetchone()[0]


def test_a_connection_used_a_moment_ago_is_not_checked(checks):
    _request()
    checks.clear()

    assert [_request() for _ in range(3)] == [42, 42, 42]
    assert checks == []


def test_an_idle_connection_is_checked_once_per_request(checks):
    _request()
    checks.clear()
    connection.last_used -= connection.settings_dict["HEALTHY_FOR"] + 1  # idle since

    assert _request() == 42
    assert checks == [1]


def test_a_connection_with_an_error_is_checked(checks):
    _request()
    checks.clear()
    connection.errors_occurred = True  # an error that Django did not settle at request end

    assert _request() == 42
    assert checks, "a connection that had an error must be checked before reuse"


def test_a_dead_connection_idle_for_a_while_is_replaced_without_error(checks):
    _request()
    old = connection.connection
    old.close()  # as if the server or a firewall had cut it while idle
    connection.last_used -= connection.settings_dict["HEALTHY_FOR"] + 1

    assert _request() == 42
    assert connection.connection is not old


# --- Statements prepared on the server, for the statements run again and again -----------------


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_prepared_cursor_prepares_its_statements_once_and_no_others():
    connection.close()  # a new session: no prepared statements yet
    for value in (1, 2, 3):
        with connection.prepared_cursor() as cursor:
            cursor.execute("SELECT %s::int + 40", [value])
            assert cursor.fetchone()[0] == 40 + value
    with connection.cursor() as cursor:  # Django's own cursor: client-side binding
        cursor.execute("SELECT %s::int + 50", [1])

    assert _prepared_statements() == ["SELECT $1::int + 40"]


def test_a_prepared_cursor_reports_errors_as_django_does():
    from django.db import IntegrityError, transaction

    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.prepared_cursor() as cursor,
    ):
        cursor.execute("CREATE TEMPORARY TABLE t (x int PRIMARY KEY)")
        cursor.execute("INSERT INTO t VALUES (%s), (%s)", [1, 1])


def test_prepared_statements_can_be_turned_off(monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PREPARED_STATEMENTS", False)
    with connection.prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int + 60", [1])

    assert _prepared_statements() == []


def test_a_prepared_cursor_numbers_placeholders_once_per_text_whatever_its_length():
    from config.postgresql.base import numbered

    numbered.cache_clear()
    # Longer than psycopg keeps its own conversions for (4 KB, 50 parameters).
    terms = " + ".join(["%s::int"] * 60)
    query = f"SELECT {terms}, '100%%' AS pct /* {'x' * 5000} */"
    for value in (1, 2):
        with connection.prepared_cursor() as cursor:
            cursor.execute(query, [value] * 60)
            assert cursor.fetchone() == (60 * value, "100%")

    assert numbered.cache_info().misses == 1
    assert numbered.cache_info().hits == 1
    assert numbered("SELECT %s, %s, '5%%'") == "SELECT $1, $2, '5%'"


def test_a_prepared_cursor_refuses_named_placeholders():
    from config.postgresql.base import numbered

    with pytest.raises(ValueError, match="only %s placeholders"):
        numbered("SELECT %(name)s")
