"""Duplicate review: a supervisor of the window's prefecture decides each likely duplicate
before the freeze (keep both, or withdraw one entry and tell its applicant), every identity
shown is an audited read, the counts are public and the freeze lists what was left unreviewed."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import contacts
from accounts.models import AuditEvent, ContactKind, OutboxMessage, Role
from booking import duplicates
from booking.models import DuplicateDecision, DuplicateFlag, Entry, EntryStatus, WindowState
from config.errors import DomainError
from lottery import clock as lottery_clock
from lottery import services as lottery_services
from lottery.models import BeaconMode, Draw, DrawState
from tests.conftest import run_concurrently
from tests.factories import EntryFactory, PersonFactory, StaffFactory
from tests.lottery.conftest import Timeline

DECISION_FIELDS = ("decision", "decided_by", "decided_at", "withdrawn_entry", "note")


@pytest.fixture
def other_supervisor(other_prefecture):
    return StaffFactory(
        username="olga.supervisor", role=Role.SUPERVISOR, prefecture=other_prefecture
    )


def _alike(window, contact: dict | None = None):
    """An entry in `window` of a person alike (names, birth date, nationality) to the others
    made here, under a document number of their own; with a contact if `contact` is given."""
    person = PersonFactory(likeness_hash="alike", given_names="Amina", family_name="Canarytest")
    return EntryFactory(
        window=window,
        person=person,
        contact=contacts.get_or_create_contact(**contact) if contact else None,
        contact_seat=1 if contact else None,
    )


def _flag(window, *, first=None, second=None) -> DuplicateFlag:
    """The flag the second registration raised, as booking.registration raises it."""
    first = first or _alike(window)
    second = second or _alike(window)
    return DuplicateFlag.objects.create(entry=second, similar_person=first.person)


@pytest.fixture
def first(window):
    return _alike(window, {"kind": ContactKind.PHONE, "value": "+33611110001"})


@pytest.fixture
def second(window):
    return _alike(window, {"kind": ContactKind.EMAIL, "value": "amina.second@example.org"})


@pytest.fixture
def flag(window, first, second):
    return _flag(window, first=first, second=second)


def _decision(flag) -> tuple:
    flag.refresh_from_db()
    return tuple(getattr(flag, name) for name in DECISION_FIELDS)


UNDECIDED = ("", None, None, None, "")


def _statuses(*entries) -> list[str]:
    return [Entry.objects.get(pk=entry.pk).status for entry in entries]


# --- Decisions --------------------------------------------------------------------------------


def test_keep_both_records_the_decision_and_its_audit_row(flag, first, second, supervisor):
    duplicates.review_keep_both(flag_id=flag.pk, actor=supervisor, note="Two cousins.")

    decision, decided_by, decided_at, withdrawn, note = _decision(flag)
    event = AuditEvent.objects.get(action="duplicate.kept_both")
    assert (decision, decided_by, withdrawn, note) == (
        DuplicateDecision.KEEP_BOTH,
        supervisor,
        None,
        "Two cousins.",
    )
    assert decided_at is not None
    assert _statuses(first, second) == [EntryStatus.REGISTERED, EntryStatus.REGISTERED]
    assert (event.actor, event.target_type, event.target_id, event.prefecture_id) == (
        supervisor,
        "duplicateflag",
        str(flag.pk),
        supervisor.prefecture_id,
    )
    assert event.data == {"entry_id": second.entry_id}


def test_withdraw_withdraws_the_chosen_entry_and_records_it(flag, first, second, supervisor):
    duplicates.review_withdraw(
        flag_id=flag.pk, entry_pk=first.pk, actor=supervisor, note="Same person, two passports."
    )

    decision, decided_by, _at, withdrawn, note = _decision(flag)
    event = AuditEvent.objects.get(action="duplicate.withdrawn")
    assert (decision, decided_by, withdrawn, note) == (
        DuplicateDecision.WITHDRAW,
        supervisor,
        first,
        "Same person, two passports.",
    )
    assert _statuses(first, second) == [EntryStatus.WITHDRAWN, EntryStatus.REGISTERED]
    assert (event.actor, event.target_id, event.data) == (
        supervisor,
        str(flag.pk),
        {"entry_id": first.entry_id},
    )


def test_withdrawn_applicant_is_told_how_to_contest(flag, second, supervisor, prefecture):
    duplicates.review_withdraw(flag_id=flag.pk, entry_pk=second.pk, actor=supervisor, note="x")

    message = OutboxMessage.objects.get()
    assert (message.channel, message.recipient, message.dedup_key) == (
        ContactKind.EMAIL,
        "amina.second@example.org",
        f"duplicate-withdrawn:{second.entry_id}",
    )
    assert second.pseudonym in message.body
    assert prefecture.name in message.body
    assert "Amina" not in message.body and "Canarytest" not in message.body


def test_withdrawn_entry_without_contact_gets_no_message(window, supervisor):
    silent = _alike(window)
    flag = _flag(window, second=silent)

    duplicates.review_withdraw(flag_id=flag.pk, entry_pk=silent.pk, actor=supervisor, note="x")

    assert _statuses(silent) == [EntryStatus.WITHDRAWN]
    assert OutboxMessage.objects.count() == 0


def test_withdraw_refuses_an_entry_outside_the_pair(flag, window, supervisor):
    stranger = EntryFactory(window=window)

    with pytest.raises(DomainError) as refused:
        duplicates.review_withdraw(
            flag_id=flag.pk, entry_pk=stranger.pk, actor=supervisor, note="x"
        )

    assert refused.value.code == "not_in_pair"
    assert _decision(flag) == UNDECIDED
    assert _statuses(stranger) == [EntryStatus.REGISTERED]


# --- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "code", "status"),
    [
        ("agent", "forbidden", 403),
        ("auditor", "forbidden", 403),
        ("other_supervisor", "not_found", 404),
    ],
)
def test_services_refuse_other_roles_and_prefectures(request, flag, first, persona, code, status):
    actor = request.getfixturevalue(persona)

    with pytest.raises(DomainError) as keep:
        duplicates.review_keep_both(flag_id=flag.pk, actor=actor, note="x")
    with pytest.raises(DomainError) as withdraw:
        duplicates.review_withdraw(flag_id=flag.pk, entry_pk=first.pk, actor=actor, note="x")

    assert (keep.value.code, keep.value.http_status) == (code, status)
    assert (withdraw.value.code, withdraw.value.http_status) == (code, status)
    assert _decision(flag) == UNDECIDED
    assert _statuses(first) == [EntryStatus.REGISTERED]


@pytest.mark.parametrize("persona", ["agent", "auditor", "other_supervisor"])
def test_pages_are_404_for_other_roles_and_prefectures(
    request, login_otp, flag, first, window, persona
):
    client = login_otp(request.getfixturevalue(persona))

    answers = [
        client.get(f"/staff/windows/{window.code}/duplicates/").status_code,
        client.get(f"/staff/duplicates/{flag.pk}/").status_code,
        client.post(f"/staff/duplicates/{flag.pk}/keep-both/", {"note": "x"}).status_code,
        client.post(
            f"/staff/duplicates/{flag.pk}/withdraw/", {"entry": first.pk, "note": "x"}
        ).status_code,
    ]

    assert answers == [404, 404, 404, 404]
    assert _decision(flag) == UNDECIDED
    assert AuditEvent.objects.filter(action="identity.read").count() == 0


def test_anonymous_is_sent_to_the_staff_login(anonymous, flag):
    response = anonymous.get(f"/staff/duplicates/{flag.pk}/")

    assert (response.status_code, response["Location"].split("?")[0]) == (302, "/admin/login/")


def _freeze_recorded(window):
    # A freeze that ran while the scheduled time has not come by this database's clock (the
    # freeze reads the application's clock): only `frozen_at` tells.
    type(window).objects.filter(pk=window.pk).update(frozen_at=timezone.now())


def _freeze_time_passed(window):
    now = timezone.now()
    type(window).objects.filter(pk=window.pk).update(
        opens_at=now - timedelta(days=3),
        closes_at=now - timedelta(days=2),
        freeze_at=now - timedelta(minutes=1),
        reveal_deadline=now + timedelta(days=1),
        state=WindowState.CLOSED,
    )


@pytest.mark.parametrize("freeze", [_freeze_recorded, _freeze_time_passed])
def test_decisions_are_refused_after_the_freeze(flag, first, window, supervisor, freeze):
    freeze(window)

    with pytest.raises(DomainError) as keep:
        duplicates.review_keep_both(flag_id=flag.pk, actor=supervisor, note="x")
    with pytest.raises(DomainError) as withdraw:
        duplicates.review_withdraw(flag_id=flag.pk, entry_pk=first.pk, actor=supervisor, note="x")

    assert (keep.value.code, withdraw.value.code) == ("reviews_closed", "reviews_closed")
    assert _decision(flag) == UNDECIDED
    assert _statuses(first) == [EntryStatus.REGISTERED]
    assert OutboxMessage.objects.count() == 0


def test_a_decided_flag_is_not_decided_again(flag, first, second, supervisor):
    duplicates.review_keep_both(flag_id=flag.pk, actor=supervisor, note="Two people.")
    kept = _decision(flag)

    with pytest.raises(DomainError) as again:
        duplicates.review_withdraw(flag_id=flag.pk, entry_pk=first.pk, actor=supervisor, note="x")
    with pytest.raises(DomainError) as repeat:
        duplicates.review_keep_both(flag_id=flag.pk, actor=supervisor, note="Two people.")

    assert (again.value.code, again.value.http_status) == ("flag_decided", 409)
    assert (repeat.value.code, repeat.value.http_status) == ("flag_decided", 409)
    assert _decision(flag) == kept
    assert _statuses(first, second) == [EntryStatus.REGISTERED, EntryStatus.REGISTERED]
    assert AuditEvent.objects.filter(action__startswith="duplicate.").count() == 1


# --- Pages ------------------------------------------------------------------------------------


def test_pair_page_shows_both_identities_and_audits_the_read(
    login_otp, flag, first, second, supervisor
):
    client = login_otp(supervisor)

    page = client.get(f"/staff/duplicates/{flag.pk}/").content.decode()

    shown = [
        value in page
        for entry in (second, first)
        for value in (entry.person.identifier, entry.pseudonym, "Amina", "Canarytest")
    ]
    event = AuditEvent.objects.get(action="identity.read")
    assert shown == [True] * 8
    assert (event.actor, event.target_type, event.target_id, event.prefecture_id) == (
        supervisor,
        "duplicateflag",
        str(flag.pk),
        supervisor.prefecture_id,
    )
    assert event.data == {"entries": [second.pseudonym, first.pseudonym]}
    row = json.dumps(event.data)
    assert [secret in row for secret in ("Amina", "Canarytest", first.person.identifier)] == [
        False,
        False,
        False,
    ]


def test_each_showing_is_an_audited_read(login_otp, flag, supervisor):
    client = login_otp(supervisor)

    client.get(f"/staff/duplicates/{flag.pk}/")
    client.get(f"/staff/duplicates/{flag.pk}/")

    assert AuditEvent.objects.filter(action="identity.read").count() == 2


def test_supervisor_keeps_both_through_the_page(login_otp, flag, window, supervisor):
    client = login_otp(supervisor)

    response = client.post(f"/staff/duplicates/{flag.pk}/keep-both/", {"note": "Two people."})

    decision, decided_by, _at, withdrawn, note = _decision(flag)
    assert (response.status_code, response["Location"]) == (
        302,
        f"/staff/windows/{window.code}/duplicates/",
    )
    assert (decision, decided_by, withdrawn, note) == (
        DuplicateDecision.KEEP_BOTH,
        supervisor,
        None,
        "Two people.",
    )


def test_supervisor_withdraws_through_the_page(login_otp, flag, first, second, supervisor):
    client = login_otp(supervisor)

    response = client.post(
        f"/staff/duplicates/{flag.pk}/withdraw/", {"entry": second.pk, "note": "Same person."}
    )

    assert response.status_code == 302
    assert _statuses(first, second) == [EntryStatus.REGISTERED, EntryStatus.WITHDRAWN]
    assert _decision(flag)[3] == second


def test_page_says_a_second_decision_was_refused(login_otp, flag, first, supervisor):
    client = login_otp(supervisor)
    client.post(f"/staff/duplicates/{flag.pk}/keep-both/", {"note": "Two people."})
    kept = _decision(flag)

    response = client.post(
        f"/staff/duplicates/{flag.pk}/withdraw/", {"entry": first.pk, "note": "Same."}
    )

    with translation.override("fr"):  # the site's language, which the request spoke
        refusal = gettext("This flag was already reviewed: nothing was changed.")
    assert response.status_code == 409
    assert response.context["withdraw_form"].non_field_errors() == [refusal]
    assert _decision(flag) == kept


def test_decision_needs_a_reason(login_otp, flag, supervisor):
    client = login_otp(supervisor)

    response = client.post(f"/staff/duplicates/{flag.pk}/keep-both/", {"note": " "})

    assert response.status_code == 400
    assert _decision(flag) == UNDECIDED


def test_queue_lists_the_unreviewed_flags_of_the_window(login_otp, flag, window, supervisor):
    decided = _flag(window)
    duplicates.review_keep_both(flag_id=decided.pk, actor=supervisor, note="Two people.")
    client = login_otp(supervisor)

    response = client.get(f"/staff/windows/{window.code}/duplicates/")

    assert [row[0].pk for row in response.context["rows"]] == [flag.pk]


def test_queue_query_count_does_not_grow_with_the_flags(
    login_otp, window, supervisor, django_assert_max_num_queries
):
    _flag(window)
    client = login_otp(supervisor)
    url = f"/staff/windows/{window.code}/duplicates/"
    # session, user, OTP device, window, count, page of flags, similar entries, DSFR config
    # (twice), session save (three)
    with django_assert_max_num_queries(12) as one:
        first = client.get(url)
    _flag(window)
    _flag(window)

    with django_assert_max_num_queries(len(one.captured_queries)):
        third = client.get(url)

    rows = [
        [similar is not None for _row_flag, similar in page.context["rows"]]
        for page in (first, third)
    ]
    assert rows == [[True], [True, True, True]]


# --- Public counts and the freeze -------------------------------------------------------------


def _decided_flags(window, supervisor) -> None:
    """Four flags in `window`: one kept, one withdrawn, two left unreviewed."""
    kept, withdrawn = _flag(window), _flag(window)
    _flag(window), _flag(window)
    duplicates.review_keep_both(flag_id=kept.pk, actor=supervisor, note="Two people.")
    duplicates.review_withdraw(
        flag_id=withdrawn.pk, entry_pk=withdrawn.entry_id, actor=supervisor, note="Same."
    )


def test_review_counts_per_window(window, supervisor, prefecture):
    _decided_flags(window, supervisor)
    quiet = EntryFactory(window__prefecture=prefecture).window

    counts = duplicates.review_counts([window.pk, quiet.pk])

    assert counts == {
        window.pk: {"raised": 4, "kept_both": 1, "withdrawn": 1, "unreviewed": 2},
        quiet.pk: {"raised": 0, "kept_both": 0, "withdrawn": 0, "unreviewed": 0},
    }


def test_public_draw_page_shows_the_review_counts(client, window, supervisor):
    _decided_flags(window, supervisor)
    lottery_services.announce_draw(window_id=window.pk, beacon_mode=BeaconMode.NONE)

    response = client.get(f"/draws/{window.code}/")

    assert response.context["duplicate_reviews"] == {
        "raised": 4,
        "kept_both": 1,
        "withdrawn": 1,
        "unreviewed": 2,
    }


def test_freeze_lists_unreviewed_flags_as_an_informational_check(prefecture, supervisor):
    life = Timeline(prefecture, entries=6, slots=2, beacon_mode=BeaconMode.NONE)
    for _ in range(2):
        _flag(life.window)
    kept = _flag(life.window)
    DuplicateFlag.objects.filter(pk=kept.pk).update(
        decision=DuplicateDecision.KEEP_BOTH, decided_by=supervisor, decided_at=timezone.now()
    )

    life.close_and_freeze()
    frozen = Draw.objects.get(window=life.window)
    life.reveal_operator()
    outcome = life.draw()
    drawn = Draw.objects.get(window=life.window)
    life.window.refresh_from_db()

    check = {"unreviewed_at_freeze": 2, "informational": True}
    assert frozen.checks == {"duplicate_flags": check}
    assert life.window.frozen_at == frozen.frozen_at
    assert (outcome, drawn.state, drawn.checks_passed) == ("drawn", DrawState.DRAWN, True)
    assert drawn.checks["duplicate_flags"] == check
    assert AuditEvent.objects.get(action="draw.frozen").data["duplicates_unreviewed"] == 2


def test_reviews_are_refused_once_the_draw_froze_the_lists(prefecture, supervisor):
    life = Timeline(prefecture, entries=2, slots=1, beacon_mode=BeaconMode.NONE)
    flag = _flag(life.window)
    life.close_and_freeze()

    with pytest.raises(DomainError) as refused:
        duplicates.review_keep_both(flag_id=flag.pk, actor=supervisor, note="Late.")

    assert refused.value.code == "reviews_closed"
    assert _decision(flag) == UNDECIDED


# --- A review and a freeze at once (PostgreSQL: row locks) ------------------------------------


def _closed_before_its_freeze(window, supervisor) -> None:
    """The window closed, its freeze an hour away by the database's clock, its draw
    announced; `freeze` below runs the freeze by a clock already past it (a skewed node)."""
    lottery_services.announce_draw(window_id=window.pk, beacon_mode=BeaconMode.NONE)
    now = timezone.now()
    type(window).objects.filter(pk=window.pk).update(
        opens_at=now - timedelta(days=3),
        closes_at=now - timedelta(hours=1),
        freeze_at=now + timedelta(hours=1),
        reveal_deadline=now + timedelta(days=1),
        state=WindowState.CLOSED,
    )


def _freeze(window, supervisor):
    window.refresh_from_db()
    with lottery_clock.at(window.freeze_at + timedelta(minutes=1)):
        return lottery_services.freeze_draw(window_id=window.pk, actor=supervisor)


def _frozen_entry_ids(window) -> set[str]:
    data = bytes(Draw.objects.get(window=window).entries_csv).decode()
    return {line.split(",")[0] for line in data.splitlines()[1:]}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_freeze_waits_for_a_review_in_progress(window, first, second, supervisor, monkeypatch):
    flag = _flag(window, first=first, second=second)
    _closed_before_its_freeze(window, supervisor)
    reviewing = threading.Event()
    message = duplicates.withdrawal_message

    def slow_message(entry):  # inside the review's transaction, the entry already withdrawn
        reviewing.set()
        time.sleep(0.5)
        return message(entry)

    monkeypatch.setattr(duplicates, "withdrawal_message", slow_message)

    def freeze_during_the_review():
        reviewing.wait(10)
        return _freeze(window, supervisor)

    outcomes = run_concurrently(
        lambda: duplicates.review_withdraw(
            flag_id=flag.pk, entry_pk=second.pk, actor=supervisor, note="Same person."
        ),
        freeze_during_the_review,
    )

    assert [error for _, error in outcomes] == [None, None]
    assert _statuses(first, second) == [EntryStatus.REGISTERED, EntryStatus.WITHDRAWN]
    assert _frozen_entry_ids(window) == {first.entry_id}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_review_waits_for_a_freeze_in_progress_then_is_refused(
    window, first, second, supervisor, monkeypatch
):
    flag = _flag(window, first=first, second=second)
    _closed_before_its_freeze(window, supervisor)
    freezing = threading.Event()
    frozen_entries = lottery_services._frozen_entries

    def slow_frozen_entries(*args):  # inside the freeze's transaction, the window marked
        freezing.set()
        time.sleep(0.5)
        return frozen_entries(*args)

    monkeypatch.setattr(lottery_services, "_frozen_entries", slow_frozen_entries)

    def review_during_the_freeze():
        freezing.wait(10)
        return duplicates.review_withdraw(
            flag_id=flag.pk, entry_pk=second.pk, actor=supervisor, note="Same person."
        )

    outcomes = run_concurrently(lambda: _freeze(window, supervisor), review_during_the_freeze)

    assert outcomes[0] == (True, None)
    assert getattr(outcomes[1][1], "code", None) == "reviews_closed"
    assert _statuses(first, second) == [EntryStatus.REGISTERED, EntryStatus.REGISTERED]
    assert _frozen_entry_ids(window) == {first.entry_id, second.entry_id}
    assert _decision(flag) == UNDECIDED
