"""Reads compiled once and run again with new values (accounts.prepared)."""

from datetime import datetime, timedelta

import pytest
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from accounts.models import Contact, ContactCodeDevice
from accounts.otp import get_or_create_contact
from accounts.prepared import Joined, Prepared, PreparedError, PreparedUpdate
from booking.models import Window
from tests.factories import WindowFactory

CONTACT = Joined(Contact)
WINDOW_AND_PREFECTURE = Joined(
    Window, ("prefecture", Window._meta.get_field("prefecture").related_model)
)


@pytest.fixture
def compiles(monkeypatch):
    calls = []
    real = SQLCompiler.as_sql

    def counted(self, *args, **kwargs):
        calls.append(self.query.model)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    connections["default"].__dict__.pop("fairslot_prepared", None)
    return calls


def test_rows_are_the_orm_rows_for_every_value(db, compiles):
    contacts = [get_or_create_contact(kind="phone", value=f"+3361234000{i}") for i in range(3)]
    by_hash = Prepared(
        lambda value_hash, pk: Contact.objects.filter(
            value_hash=value_hash, pk__gte=pk
        ).values_list("pk", "value", "verified_at"),
        str,
        int,
    )

    expected = [
        list(
            Contact.objects.filter(value_hash=c.value_hash, pk__gte=c.pk).values_list(
                "pk", "value", "verified_at"
            )
        )
        for c in contacts
    ]
    compiles.clear()

    for contact, rows in zip(contacts, expected, strict=True):
        got = by_hash.rows(contact.value_hash, contact.pk)
        assert [tuple(row) for row in got] == rows
        assert got[0][1] == contact.value  # decrypted by the field's converter, as the ORM does
    assert by_hash.rows(contacts[0].value_hash, contacts[-1].pk + 1000) == []
    assert len(compiles) == 2  # two compilations (two rounds of probes) on first use, then none


def test_joined_rows_become_instances(db):
    window = WindowFactory()
    read = Prepared(
        lambda code: Window.objects.filter(code=code).values_list(*WINDOW_AND_PREFECTURE.names()),
        str,
    )

    ((row,),) = [read.rows(window.code)]
    got_window, got_prefecture = WINDOW_AND_PREFECTURE.split(row)

    assert (got_window.pk, got_window.code, got_window.closes_at) == (
        window.pk, window.code, window.closes_at,
    )  # fmt: skip
    assert (got_prefecture.pk, got_prefecture.code) == (
        window.prefecture.pk,
        window.prefecture.code,
    )
    assert got_window._state.adding is False


def test_a_left_join_without_a_row_gives_none(db):
    contact = get_or_create_contact(kind="phone", value="+33612340009")
    ContactCodeDevice.objects.filter(contact=contact).delete()  # a contact without a device
    joined = Joined(Contact, ("device", ContactCodeDevice))
    read = Prepared(lambda pk: Contact.objects.filter(pk=pk).values_list(*joined.names()), int)

    got_contact, device = joined.split(read.rows(contact.pk)[0])
    assert got_contact.pk == contact.pk and device is None


def test_a_parameter_changed_on_its_way_is_refused(db):
    upper = Prepared(lambda code: Window.objects.filter(code=code.upper()).values_list("pk"), str)

    with pytest.raises(PreparedError):
        upper.rows("abc")


def test_sql_that_depends_on_a_value_is_refused(db):
    limited = Prepared(lambda n: Window.objects.values_list("pk")[:n], int)

    with pytest.raises(PreparedError):
        limited.rows(3)


def test_a_time_from_the_application_is_refused(db):
    recent = Prepared(
        lambda pk: Window.objects.filter(pk=pk, opens_at__lte=timezone.now()).values_list("pk"),
        int,
    )

    with pytest.raises(PreparedError):
        recent.rows(1)


def test_values_of_the_wrong_type_are_refused(db):
    read = Prepared(lambda pk: Window.objects.filter(pk=pk).values_list("pk"), int)

    with pytest.raises(TypeError):
        read.rows("1")
    with pytest.raises(PreparedError):
        Prepared(lambda when: Window.objects.filter(opens_at=when), object)


def test_an_update_changes_the_rows_the_orm_would(db):
    contacts = [get_or_create_contact(kind="phone", value=f"+3361234100{i}") for i in range(3)]
    Contact.objects.update(verified_at=None)
    verify = PreparedUpdate(
        lambda pk, now: (
            Contact.objects.filter(pk=pk, verified_at__isnull=True),
            {"verified_at": now},
        ),
        int,
        datetime,
    )
    first, later = timezone.now(), timezone.now() + timedelta(hours=1)

    assert verify.update(contacts[0].pk, first) == 1
    assert verify.update(contacts[0].pk, later) == 0  # the WHERE holds no more
    assert verify.update(contacts[2].pk, later) == 1

    stored = dict(Contact.objects.values_list("pk", "verified_at"))
    assert stored == {contacts[0].pk: first, contacts[1].pk: None, contacts[2].pk: later}


def test_an_update_with_a_value_computed_from_a_parameter_is_refused(db):
    extend = PreparedUpdate(
        lambda pk, now: (Contact.objects.filter(pk=pk), {"verified_at": now + timedelta(1)}),
        int,
        datetime,
    )

    with pytest.raises(PreparedError):
        extend.update(1, timezone.now())
