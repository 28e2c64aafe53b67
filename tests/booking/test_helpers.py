"""Association helpers: approved by a supervisor of the prefecture, they register the people they
accompany with a recorded consent, under caps per helper and per organisation, and see the
status of those entries only."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Role
from booking import helpers
from booking.models import (
    Channel,
    Entry,
    EntryStatus,
    HelperConsent,
    HelperMembership,
    Organisation,
)
from config.errors import DomainError
from tests.booking.test_counter import counter_form, counter_input, staff_client
from tests.conftest import run_concurrently
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _helper(prefecture, name="helper"):
    return StaffFactory(username=name, role=Role.HELPER, prefecture=prefecture)


def _approved_helper(prefecture, name="helper", organisation=None, supervisor=None):
    """A helper of `organisation` (a new one by default), both approved."""
    supervisor = supervisor or StaffFactory(role=Role.SUPERVISOR, prefecture=prefecture)
    helper = _helper(prefecture, name)
    organisation = organisation or Organisation.objects.create(
        prefecture=prefecture, name=f"Association of {name}"
    )
    membership = HelperMembership.objects.create(user=helper, organisation=organisation)
    helpers.approve_organisation(organisation_id=organisation.pk, actor=supervisor)
    helpers.approve_helper(membership_id=membership.pk, actor=supervisor)
    return helper


def _register(window, helper, n: int, consent=True):
    """Register the n-th person for `helper` (another identity each time, no contact)."""
    return helpers.register_for_helper(
        window=window,
        data=counter_input(
            window, identifier=f"75000{n:05d}", family_name=f"Person{n}", contact=""
        ),
        actor=helper,
        consent=consent,
    )


# --- Joining and approval -----------------------------------------------------------------------


def test_helper_asks_to_join_and_a_supervisor_approves(prefecture, supervisor):
    helper = _helper(prefecture)
    helper_client, supervisor_client = staff_client(helper), staff_client(supervisor)

    helper_client.post(reverse("staff-helper"), {"name": "  Cimade   Grenoble "})
    membership = HelperMembership.objects.select_related("organisation").get(user=helper)
    waiting_page = supervisor_client.get(reverse("staff-organisations"))
    supervisor_client.post(reverse("staff-organisation-approve", args=[membership.organisation_id]))
    supervisor_client.post(reverse("staff-helper-approve", args=[membership.pk]))
    supervisor_client.post(reverse("staff-helper-approve", args=[membership.pk]))  # a repeat

    membership.refresh_from_db()
    membership.organisation.refresh_from_db()
    actions = list(
        AuditEvent.objects.order_by("seq").values_list("action", "actor__username", "target_id")
    )
    assert membership.organisation.name == "Cimade Grenoble"
    assert membership.organisation.prefecture == prefecture
    assert [o.name for o in waiting_page.context["organisations"]] == ["Cimade Grenoble"]
    assert [m.user for m in waiting_page.context["memberships"]] == [helper]
    assert (membership.approved_by, membership.organisation.approved_by) == (supervisor, supervisor)
    assert membership.approved_at is not None and membership.organisation.approved_at is not None
    assert actions == [
        ("helper.requested", helper.username, str(membership.pk)),
        ("organisation.approved", supervisor.username, str(membership.organisation_id)),
        ("helper.approved", supervisor.username, str(membership.pk)),
    ]
    assert helpers.is_approved(helpers.membership_of(helper), helper)


def test_approval_is_for_a_supervisor_of_the_prefecture_only(prefecture, other_prefecture, agent):
    organisation = Organisation.objects.create(prefecture=prefecture, name="Secours")
    other_supervisor = StaffFactory(role=Role.SUPERVISOR, prefecture=other_prefecture)
    url = reverse("staff-organisation-approve", args=[organisation.pk])

    answers = [staff_client(user).post(url).status_code for user in (agent, other_supervisor)]
    with pytest.raises(DomainError) as refused:
        helpers.approve_organisation(organisation_id=organisation.pk, actor=other_supervisor)

    organisation.refresh_from_db()
    assert answers == [404, 404]
    assert refused.value.http_status == 403
    assert (organisation.approved_at, organisation.approved_by) == (None, None)
    assert not AuditEvent.objects.filter(action="organisation.approved").exists()


def test_supervisor_sees_only_the_organisations_of_the_prefecture(
    prefecture, other_prefecture, supervisor
):
    Organisation.objects.create(prefecture=prefecture, name="Ici")
    Organisation.objects.create(prefecture=other_prefecture, name="Ailleurs")

    page = staff_client(supervisor).get(reverse("staff-organisations"))

    assert [o.name for o in page.context["organisations"]] == ["Ici"]


# --- Registration -------------------------------------------------------------------------------


def test_helper_registers_a_person_with_the_consent_recorded(window, prefecture):
    helper = _approved_helper(prefecture)
    client = staff_client(helper)

    response = client.post(
        reverse("staff-helper-register", args=[window.code]), counter_form(window, consent="on")
    )

    entry = Entry.objects.get()
    consent = HelperConsent.objects.get()
    event = AuditEvent.objects.get(action="entry.registered")
    assert response["Location"] == reverse("staff-entry-receipt", args=[entry.entry_id])
    assert (entry.channel, entry.registered_by) == (Channel.HELPER, helper)
    assert (consent.entry, consent.helper, consent.window) == (entry, helper, window)
    assert consent.organisation == helper.helper_membership.organisation
    assert consent.statement == str(helpers.CONSENT_STATEMENT)
    assert abs(consent.consented_at - timezone.now()).total_seconds() < 60
    assert (event.actor, event.data["channel"]) == (helper, "helper")


def test_helper_registration_without_consent_is_refused(window, prefecture):
    helper = _approved_helper(prefecture)
    client = staff_client(helper)

    response = client.post(
        reverse("staff-helper-register", args=[window.code]), counter_form(window)
    )
    with pytest.raises(DomainError) as refused:
        _register(window, helper, 1, consent=False)

    assert response.status_code == 400
    assert "consent" in response.context["form"].errors
    assert refused.value.code == "consent_missing"
    assert Entry.objects.count() == HelperConsent.objects.count() == 0


def test_helper_not_approved_registers_nobody(window, prefecture):
    helper = _helper(prefecture)
    organisation = Organisation.objects.create(prefecture=prefecture, name="Pas encore")
    HelperMembership.objects.create(user=helper, organisation=organisation)
    client = staff_client(helper)

    page = client.post(
        reverse("staff-helper-register", args=[window.code]), counter_form(window, consent="on")
    )
    with pytest.raises(DomainError) as refused:
        _register(window, helper, 1)

    assert page.status_code == 403
    assert refused.value.code == "helper_not_approved"
    assert Entry.objects.count() == 0


def test_revoked_helper_registers_nobody_and_keeps_seeing_their_entries(
    window, prefecture, supervisor
):
    helper = _approved_helper(prefecture, supervisor=supervisor)
    kept = _register(window, helper, 1)
    membership = helper.helper_membership
    supervisor_client = staff_client(supervisor)

    revoked = supervisor_client.post(reverse("staff-helper-revoke", args=[membership.pk]))
    again = helpers.revoke_helper(membership_id=membership.pk, actor=supervisor)  # a no-op
    with pytest.raises(DomainError) as refused:
        _register(window, helper, 2)
    approved_again = helpers.approve_helper(membership_id=membership.pk, actor=supervisor)
    page = supervisor_client.get(reverse("staff-organisations")).content.decode()
    home = staff_client(helper).get(reverse("staff-helper")).content.decode()

    membership.refresh_from_db()
    assert revoked.status_code == 302 and again is False and approved_again is False
    assert (membership.revoked_by, membership.revoked_at is not None) == (supervisor, True)
    assert refused.value.code == "helper_not_approved"
    assert [entry.pk for entry in helpers.helper_entries(helper)] == [kept.pk]
    assert Entry.objects.count() == 1
    assert (
        AuditEvent.objects.filter(action="helper.revoked", target_id=str(membership.pk)).count()
        == 1
    )
    assert "Revoked on" in page or "Révoqué le" in page
    assert "revoked your account" in home or "a révoqué votre compte" in home
    assert reverse("staff-helper-entries") in home  # the people registered stay in view


def test_revoked_organisation_stops_all_its_helpers(window, prefecture, supervisor):
    first = _approved_helper(prefecture, "first", supervisor=supervisor)
    organisation = first.helper_membership.organisation
    second = _approved_helper(prefecture, "second", organisation=organisation)

    revoked = helpers.revoke_organisation(organisation_id=organisation.pk, actor=supervisor)
    refusals = []
    for n, helper in enumerate((first, second)):
        with pytest.raises(DomainError) as refused:
            _register(window, helper, n)
        refusals.append(refused.value.code)

    assert revoked is True
    assert refusals == ["helper_not_approved", "helper_not_approved"]
    assert AuditEvent.objects.filter(action="organisation.revoked").count() == 1


def test_a_helper_not_yet_approved_cannot_be_revoked(prefecture, supervisor):
    organisation = Organisation.objects.create(prefecture=prefecture, name="Pas encore")
    membership = HelperMembership.objects.create(
        user=_helper(prefecture), organisation=organisation
    )

    assert helpers.revoke_helper(membership_id=membership.pk, actor=supervisor) is False
    assert helpers.revoke_organisation(organisation_id=organisation.pk, actor=supervisor) is False
    assert not AuditEvent.objects.filter(action__endswith=".revoked").exists()


def test_revocation_is_for_a_supervisor_of_the_prefecture_only(prefecture, other_prefecture, agent):
    helper = _approved_helper(prefecture)
    membership = helper.helper_membership
    other_supervisor = StaffFactory(role=Role.SUPERVISOR, prefecture=other_prefecture)
    urls = [
        reverse("staff-helper-revoke", args=[membership.pk]),
        reverse("staff-organisation-revoke", args=[membership.organisation_id]),
    ]

    answers = [
        staff_client(user).post(url).status_code
        for user in (agent, other_supervisor, helper)
        for url in urls
    ]
    with pytest.raises(DomainError) as refused:
        helpers.revoke_helper(membership_id=membership.pk, actor=other_supervisor)

    membership.refresh_from_db()
    assert answers == [404, 404, 404, 404, 404, 404]
    assert refused.value.http_status == 403
    assert membership.revoked_at is None and helpers.is_approved(membership, helper)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_revocation_and_a_registration_at_once_are_serialised(window, prefecture, supervisor):
    helper = _approved_helper(prefecture, supervisor=supervisor)
    membership = helper.helper_membership

    (registered, refusal), (revoked, _) = run_concurrently(
        lambda: _register(window, helper, 1).pk,
        lambda: helpers.revoke_helper(membership_id=membership.pk, actor=supervisor),
    )

    # Either the registration came first and stands, or the revocation did and refused it.
    assert revoked is True
    assert (registered is None) == (getattr(refusal, "code", None) == "helper_not_approved")
    assert Entry.objects.count() == (0 if registered is None else 1)
    with pytest.raises(DomainError):
        _register(window, helper, 2)


def test_helper_duplicate_is_refused_as_on_the_web(window, prefecture, agent):
    helper = _approved_helper(prefecture)
    _register(window, helper, 1)

    with pytest.raises(DomainError) as refused:
        _register(window, helper, 1)

    assert refused.value.code == "already_registered"
    assert HelperConsent.objects.count() == Entry.objects.count() == 1


def test_helper_told_about_duplicates_only_up_to_the_cap(window, prefecture, monkeypatch):
    monkeypatch.setattr(helpers, "MAX_DUPLICATE_ANSWERS", 2)
    helper = _approved_helper(prefecture)
    other = _approved_helper(prefecture, "other")
    _register(window, helper, 1)

    codes = []
    for _attempt in range(4):
        with pytest.raises(DomainError) as refused:
            _register(window, helper, 1)
        codes.append(refused.value.code)
    with pytest.raises(DomainError) as to_other:
        _register(window, other, 1)  # the cap is per helper
    new_person = _register(window, helper, 2)  # still registers people not registered yet
    page = staff_client(helper).post(
        reverse("staff-helper-register", args=[window.code]),
        counter_form(window, consent="on", identifier="7500000001", family_name="Person1"),
    )

    assert codes == [
        "already_registered", "already_registered", "too_many_duplicates", "too_many_duplicates"
    ]  # fmt: skip
    assert to_other.value.code == "already_registered"
    assert new_person.channel == Channel.HELPER
    assert page.status_code == 429
    assert AuditEvent.objects.filter(action="entry.duplicate_refused", actor=helper).count() == 5


# --- Caps ---------------------------------------------------------------------------------------


def test_helper_cap_per_window_refuses_the_next_person(window, prefecture, settings):
    settings.HELPER_CAP_PER_WINDOW = 2
    helper = _approved_helper(prefecture)
    _register(window, helper, 1)
    _register(window, helper, 2)

    with pytest.raises(DomainError) as refused:
        _register(window, helper, 3)

    assert (refused.value.code, refused.value.http_status) == ("helper_cap_reached", 409)
    assert Entry.objects.filter(registered_by=helper).count() == 2


def test_organisation_cap_counts_all_its_helpers(window, prefecture, settings):
    settings.ORGANISATION_CAP_PER_WINDOW = 3
    first = _approved_helper(prefecture, "first")
    organisation = first.helper_membership.organisation
    second = _approved_helper(prefecture, "second", organisation=organisation)
    _register(window, first, 1)
    _register(window, first, 2)
    _register(window, second, 3)

    with pytest.raises(DomainError) as refused:
        _register(window, second, 4)

    assert refused.value.code == "organisation_cap_reached"
    assert HelperConsent.objects.filter(organisation=organisation).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_organisation_cap_holds_when_its_helpers_register_at_once(window, prefecture, settings):
    settings.ORGANISATION_CAP_PER_WINDOW = 1
    first = _approved_helper(prefecture, "first")
    organisation = first.helper_membership.organisation
    second = _approved_helper(prefecture, "second", organisation=organisation)

    outcomes = run_concurrently(
        lambda: _register(window, first, 1).pk, lambda: _register(window, second, 2).pk
    )

    refusals = [getattr(error, "code", repr(error)) for _pk, error in outcomes if error]
    assert refusals == ["organisation_cap_reached"]
    assert Entry.objects.count() == HelperConsent.objects.count() == 1


# --- What a helper sees -------------------------------------------------------------------------


def test_helper_sees_only_the_status_of_their_own_entries(window, prefecture):
    helper = _approved_helper(prefecture, "mine")
    other = _approved_helper(prefecture, "theirs")
    mine = _register(window, helper, 1)
    theirs = _register(window, other, 2)
    client = staff_client(helper)

    page = client.get(reverse("staff-helper-entries"))
    receipts = [
        client.get(reverse("staff-entry-receipt", args=[entry.entry_id])).status_code
        for entry in (mine, theirs)
    ]

    assert [(e.pseudonym, e.status) for e in page.context["page"]] == [
        (mine.pseudonym, EntryStatus.REGISTERED)
    ]
    assert theirs.pseudonym not in page.text
    assert "Person1" not in page.text and "7500000001" not in page.text
    assert receipts == [200, 404]


@pytest.mark.parametrize("count", [1, 3])
def test_helper_entries_page_costs_the_same_queries_whatever_its_length(
    window, prefecture, count, django_assert_num_queries
):
    helper = _approved_helper(prefecture)
    for n in range(count):
        _register(window, helper, n)
    client = staff_client(helper)
    client.get(reverse("staff-helper-entries"))  # the session's first read is not counted

    with django_assert_num_queries(8):  # session, user, device, count, page, open offers, DSFR x2
        page = client.get(reverse("staff-helper-entries"))

    assert len(page.context["page"]) == count


def test_helper_page_offers_the_open_windows_once_approved(window, prefecture):
    approved = _approved_helper(prefecture, "approved")
    waiting = _helper(prefecture, "waiting")
    HelperMembership.objects.create(
        user=waiting, organisation=Organisation.objects.create(prefecture=prefecture, name="B")
    )

    pages = [staff_client(user).get(reverse("staff-helper")) for user in (approved, waiting)]

    register = reverse("staff-helper-register", args=[window.code])
    assert [list(page.context["windows"]) for page in pages] == [[window], []]
    assert register in pages[0].text and register not in pages[1].text


def test_demo_leaves_one_helper_waiting_for_the_supervisor(db):
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # idempotent

    membership = HelperMembership.objects.select_related("user", "organisation").get()
    assert (membership.user.username, membership.approved_at) == ("aide.isere", None)
    assert membership.organisation.approved_at is None
