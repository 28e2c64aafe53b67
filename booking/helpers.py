"""Association helpers: a helper account (Role.HELPER) asks to join an organisation of its
prefecture; a supervisor of that prefecture approves the organisation and the helper; an
approved helper then registers the people they accompany (booking.counter's rules, channel
HELPER), each with the person's consent recorded, under caps per helper and per organisation
and window. A helper sees the pseudonym and status of the entries they registered, nothing
else.

The caps are counted under a lock: every registration by a member of an organisation locks
the organisation's row first, then counts the consents of the window and writes its own, so
two helpers of one organisation registering at once are counted one after the other. (One
organisation per helper: the organisation's lock covers the helper's cap too.)
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import AuditEvent, Role
from booking import counter, entries, registration
from booking.models import (
    Appointment,
    AppointmentState,
    Channel,
    Entry,
    HelperConsent,
    HelperMembership,
    Organisation,
    Window,
    WindowState,
)
from booking.registration import RegistrationInput
from config.errors import Conflict, DomainError, Forbidden, Throttled

# Duplicate persons a helper may be told about in one window: past it, the answer no longer
# says whether the person is registered (as the web does past registration.MAX_DUPLICATE_ANSWERS
# per contact). A helper who keeps typing people already registered is probing, or needs the
# prefecture's help; each refusal is in the audit log under their name.
MAX_DUPLICATE_ANSWERS = 10

CONSENT_STATEMENT = _(
    "The person I register was present, asked me to register them, and agreed that their "
    "identity and contact be used for this appointment only."
)


def _check_supervisor(actor, prefecture_id: int) -> None:
    if actor.role != Role.SUPERVISOR or actor.prefecture_id != prefecture_id:
        raise Forbidden("forbidden", _("Only a supervisor of this prefecture can do this."))


def _not_approved() -> Forbidden:
    return Forbidden(
        "helper_not_approved",
        _(
            "Your helper account or your organisation is not approved by the prefecture, or no "
            "longer is."
        ),
    )


# --- Joining and approval ---------------------------------------------------------------------


def _organisation_named(prefecture_id: int, name: str) -> Organisation:
    """The organisation of the prefecture with this name (any case), created if new; a
    concurrent creation is read."""
    known = Organisation.objects.filter(prefecture_id=prefecture_id, name__iexact=name)
    organisation, _created = known.get_or_create(
        defaults={"prefecture_id": prefecture_id, "name": name}
    )
    return organisation


def request_membership(*, user, organisation_name: str) -> HelperMembership:
    """A helper account asks to join the organisation named so in its prefecture (created,
    waiting for approval, if new). Audited; one organisation per account."""
    name = " ".join(organisation_name.split())[:120]
    if user.role != Role.HELPER or user.prefecture_id is None or not name:
        raise Forbidden("forbidden", _("Only a helper account can join an organisation."))
    with transaction.atomic(durable=True):
        organisation = _organisation_named(user.prefecture_id, name)
        membership, created = HelperMembership.objects.get_or_create(
            user=user, defaults={"organisation": organisation}
        )
        if not created:
            raise Conflict("helper_has_organisation", _("You already belong to an organisation."))
        audit.record(
            "helper.requested",
            actor=user,
            target=membership,
            prefecture_id=user.prefecture_id,
            organisation=organisation.pk,
        )
    return membership


# A supervisor's decisions: the state the row must be in, and the pair of fields the decision
# fills ("approved" -> approved_at and approved_by). A revocation is final: the association or
# the account asks anew under another name, and the entries already registered stay, each a
# person's own.
APPROVE = ({"approved_at__isnull": True}, "approved")
REVOKE = ({"approved_at__isnull": False, "revoked_at__isnull": True}, "revoked")
ORGANISATIONS = (Organisation, "organisation", "prefecture")
HELPERS = (HelperMembership, "helper", "organisation__prefecture")


def _decide(rows, pk: int, decision, actor) -> bool:
    """Apply `decision` (APPROVE, REVOKE) to the row `pk` of `rows` (ORGANISATIONS, HELPERS) if
    a supervisor of its prefecture asks; audited as "<kind>.<approved|revoked>". True if this
    call changed the row, False if it was not in the state the decision needs (a repeat is a
    no-op, not audited again)."""
    (model, kind, prefecture_path), (state_needed, done) = rows, decision
    queryset = model.objects.all()
    prefecture_id = queryset.filter(pk=pk).values_list(prefecture_path, flat=True).first()
    if prefecture_id is None:
        raise DomainError("not_found", _("Not found."), http_status=404)
    _check_supervisor(actor, prefecture_id)
    with transaction.atomic(durable=True):
        # The conditional UPDATE is the claim: of two same decisions, one changes the row.
        changed = queryset.filter(pk=pk, **state_needed).update(
            **{f"{done}_at": Now(), f"{done}_by": actor}
        )
        if changed:
            target = queryset.get(pk=pk)
            audit.record(f"{kind}.{done}", actor=actor, target=target, prefecture_id=prefecture_id)
    return bool(changed)


def approve_organisation(*, organisation_id: int, actor) -> bool:
    """A supervisor of the organisation's prefecture approves it (audited)."""
    return _decide(ORGANISATIONS, organisation_id, APPROVE, actor)


def approve_helper(*, membership_id: int, actor) -> bool:
    """A supervisor of the organisation's prefecture approves a helper account in it
    (audited)."""
    return _decide(HELPERS, membership_id, APPROVE, actor)


def revoke_organisation(*, organisation_id: int, actor) -> bool:
    """A supervisor of the organisation's prefecture revokes it: none of its helpers registers
    anyone from now on (audited)."""
    return _decide(ORGANISATIONS, organisation_id, REVOKE, actor)


def revoke_helper(*, membership_id: int, actor) -> bool:
    """A supervisor of the organisation's prefecture revokes a helper account: it registers
    nobody from now on and still sees the entries it registered (audited)."""
    return _decide(HELPERS, membership_id, REVOKE, actor)


# --- Reads --------------------------------------------------------------------------------------


def membership_of(user) -> HelperMembership | None:
    """The helper's membership, with its organisation, approved or not, or None."""
    return HelperMembership.objects.select_related("organisation").filter(user=user).first()


def is_approved(membership: HelperMembership | None, user) -> bool:
    """Whether the helper and their organisation are approved and not revoked, in the
    helper's prefecture."""
    return bool(
        membership is not None
        and user.role == Role.HELPER
        and membership.approved_at
        and membership.revoked_at is None
        and membership.organisation.approved_at
        and membership.organisation.revoked_at is None
        and membership.organisation.prefecture_id == user.prefecture_id
    )


def helper_entries(user):
    """The entries this helper registered, newest first: the pseudonym, status, window and
    procedure only (no identity, no contact), with `open_offers`: the offers waiting for an
    answer (published), which the helper may give for the person."""
    open_offers = Appointment.objects.filter(
        state=AppointmentState.OFFERED, slot__window__state=WindowState.PUBLISHED
    ).only("pk", "entry_id", "respond_by")
    return (
        Entry.objects.filter(registered_by=user, channel=Channel.HELPER)
        .select_related("window", "procedure")
        .prefetch_related(Prefetch("appointments", queryset=open_offers, to_attr="open_offers"))
        .only(
            "entry_id", "status", "created_at", "window__code", "window__title", "procedure__name"
        )
        .order_by("-created_at", "-pk")
    )


# --- Registration -----------------------------------------------------------------------------


def _locked_membership(actor, window: Window) -> HelperMembership:
    """The actor's membership, its organisation's row locked (the caps' lock), if the helper
    may register into `window`; otherwise Forbidden."""
    membership = membership_of(actor)
    if not is_approved(membership, actor) or actor.prefecture_id != window.prefecture_id:
        raise _not_approved()
    # The locks are taken before anything is counted: a concurrent registration by another
    # member of the organisation waits here, and so does a revocation of the helper or of the
    # organisation (its UPDATE locks the same row), which is why the rows are read again.
    locked = (
        HelperMembership.objects.select_for_update(of=("self", "organisation"))
        .select_related("organisation")
        .get(pk=membership.pk)
    )
    if not is_approved(locked, actor):
        raise _not_approved()
    return locked


def _check_caps(membership: HelperMembership, window: Window) -> None:
    consents = HelperConsent.objects.filter(window=window)
    if consents.filter(helper_id=membership.user_id).count() >= settings.HELPER_CAP_PER_WINDOW:
        raise Conflict(
            "helper_cap_reached",
            _("You have registered as many people as one helper may in this window (%(n)d).")
            % {"n": settings.HELPER_CAP_PER_WINDOW},
        )
    cap = settings.ORGANISATION_CAP_PER_WINDOW
    if consents.filter(organisation_id=membership.organisation_id).count() >= cap:
        raise Conflict(
            "organisation_cap_reached",
            _("Your organisation has registered as many people as it may in this window (%(n)d).")
            % {"n": cap},
        )


def register_for_helper(
    *, window: Window, data: RegistrationInput, actor, consent: bool, language: str = "fr"
) -> Entry:
    """An approved helper registers a person they accompany, who consented (`consent`: the
    helper ticked the statement): channel HELPER, `registered_by` the helper, the consent
    recorded (who, for which organisation, when, to what), under the caps. Refused as on the
    web for a duplicate person or a closed window."""
    if not consent:
        raise registration.FieldError(
            "consent", "consent_missing", _("The person's consent is required.")
        )
    answers = counter.staff_answers(data)
    with transaction.atomic(durable=True):
        membership = _locked_membership(actor, window)
        _check_caps(membership, window)
        refused = _duplicates_refused(actor, window)  # counted under the organisation's lock
        entry = counter.enter_for_staff(
            window=window, answers=answers, actor=actor, channel=Channel.HELPER, language=language
        )
        if entry is not None:
            # After the audit head's lock (enter_for_staff): this insert waits for no row
            # another writer of the chain could hold.
            HelperConsent.objects.create(
                entry=entry,
                window=window,
                organisation_id=membership.organisation_id,
                helper=actor,
                statement=str(CONSENT_STATEMENT),
            )
    if entry is None and refused >= MAX_DUPLICATE_ANSWERS:
        raise Throttled(
            "too_many_duplicates",
            _("Too many refused registrations from this account in this window: ask the "
              "prefecture."),
        )  # fmt: skip
    if entry is None:
        raise entries.already_registered()
    return entry


def _duplicates_refused(helper, window: Window) -> int:
    """The duplicate persons this helper was refused in this window so far (counter's audit
    rows: "entry.duplicate_refused" naming the helper and the window)."""
    refusals = AuditEvent.objects.filter(
        action="entry.duplicate_refused", actor=helper, target_type="window"
    )
    return refusals.filter(target_id=str(window.pk)).count()
