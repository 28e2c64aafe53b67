"""Duplicate review: a supervisor's decision on a likely duplicate (`DuplicateFlag`) before the
freeze, the identity read it takes, and the counts published with the draw.

A flag pairs the entry that raised it with the similar person's entry in the same window (an
active one of the same procedure first). A supervisor of the window's prefecture keeps both
(two different people) or withdraws one of the two; the withdrawn applicant is told how to
contest it. Reviews end at the freeze: from then on the entries are the draw's input. booking
never imports lottery, so the freeze is read on the window: `Window.frozen_at`, which the
freeze writes under the window's row lock before it reads the entries (a review takes that
lock too, so a review and a freeze never interleave, whatever the servers' clocks say), and
the scheduled `freeze_at` by database time, the deadline supervisors are given (it also covers
windows frozen before `frozen_at` existed).
"""

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Now
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import ContactKind, Role
from accounts.outbox import enqueue_message
from accounts.sms_text import for_sms
from booking.models import DuplicateDecision, DuplicateFlag, Entry, EntryStatus, Window, WindowState
from config.errors import Conflict, DomainError

REVIEWABLE_STATES = [WindowState.OPEN, WindowState.CLOSED]
# Not drawn yet: the statuses an entry can have before the freeze, withdrawn aside.
WITHDRAWABLE = [EntryStatus.PENDING, EntryStatus.REGISTERED]
COUNT_NAMES = ("raised", "kept_both", "withdrawn", "unreviewed")


def _not_found() -> DomainError:
    return DomainError("not_found", _("No such duplicate flag."), http_status=404)


def _check_supervisor(actor, prefecture_id: int) -> None:
    if actor.prefecture_id != prefecture_id:
        raise _not_found()  # another prefecture's flag looks exactly like a missing one
    if actor.role != Role.SUPERVISOR:
        raise DomainError(
            "forbidden", _("Only a supervisor of this prefecture can do this."), http_status=403
        )


def _reviewable() -> Q:
    """Windows whose flags may still be decided: open or closed, and not frozen, neither as
    recorded by the freeze nor by the schedule (database time)."""
    return Q(state__in=REVIEWABLE_STATES, frozen_at__isnull=True, freeze_at__gt=Now())


# --- Reads ------------------------------------------------------------------------------------


def _similar_entry_pk() -> Coalesce:
    """For a flag: the pk of the similar person's entry in the flagged entry's window, one of
    the same procedure first, an active one first."""
    # Two subqueries rather than one ordered by "same procedure": SQLite cannot read the outer
    # query's columns in a subquery's ORDER BY.
    in_window = Entry.objects.filter(
        person_id=OuterRef("similar_person_id"), window_id=OuterRef("entry__window_id")
    ).order_by("-active", "created_at", "pk")
    same_procedure = in_window.filter(procedure_id=OuterRef("entry__procedure_id"))
    return Coalesce(Subquery(same_procedure.values("pk")[:1]), Subquery(in_window.values("pk")[:1]))


def unreviewed_flags(window: Window):
    """The window's flags awaiting a decision, oldest first, each with `similar_entry_pk`."""
    return (
        DuplicateFlag.objects.filter(entry__window=window, decision="")
        .select_related("entry__procedure")
        .annotate(similar_entry_pk=_similar_entry_pk())
        .order_by("created_at", "pk")
    )


def with_similar_entries(flags) -> list[tuple[DuplicateFlag, Entry | None]]:
    """Each flag (from `unreviewed_flags`) with the similar person's entry: one query for all."""
    flags = list(flags)
    entries = Entry.objects.in_bulk([f.similar_entry_pk for f in flags if f.similar_entry_pk])
    return [(flag, entries.get(flag.similar_entry_pk)) for flag in flags]


def flags_with_similar_entry():
    """Flags with what their review page shows of them, and `similar_entry_pk`."""
    return DuplicateFlag.objects.select_related(
        "entry__window", "entry__procedure", "decided_by", "withdrawn_entry"
    ).annotate(similar_entry_pk=_similar_entry_pk())


def pair_entries(flag: DuplicateFlag, *, with_people: bool = False) -> list[Entry]:
    """The flagged entry and, if there is one, the similar person's entry in its window (from
    `flags_with_similar_entry`). Their people are loaded (and decrypted) only `with_people`."""
    related = ["procedure", "person"] if with_people else ["procedure"]
    pks = [flag.entry_id] + ([flag.similar_entry_pk] if flag.similar_entry_pk else [])
    found = Entry.objects.select_related(*related).in_bulk(pks)
    return [found[pk] for pk in pks]


def is_reviewable(flag: DuplicateFlag) -> bool:
    """Whether the flag can be decided now (the services decide again, under the lock)."""
    return (
        not flag.decision and Window.objects.filter(_reviewable(), pk=flag.entry.window_id).exists()
    )


def read_pair(*, flag: DuplicateFlag, actor) -> list[Entry]:
    """The pair's entries with their people's identities, for a supervisor of the flag's
    prefecture. A staff read of applicants' identities: audited, with pseudonyms only."""
    _check_supervisor(actor, flag.entry.window.prefecture_id)
    with transaction.atomic(durable=True):
        entries = pair_entries(flag, with_people=True)
        audit.record(
            "identity.read",
            actor=actor,
            target=flag,
            prefecture_id=flag.entry.window.prefecture_id,
            entries=[entry.pseudonym for entry in entries],
        )
    return entries


def review_counts(window_ids) -> dict[int, dict[str, int]]:
    """Per window (public figures): flags raised, kept both, withdrawn and unreviewed. One
    query whatever the number of windows; a window without flags has zeros."""
    rows = (
        DuplicateFlag.objects.filter(entry__window_id__in=window_ids)
        .values("entry__window_id")
        .order_by()
        .annotate(
            raised=Count("pk"),
            kept_both=Count("pk", filter=Q(decision=DuplicateDecision.KEEP_BOTH)),
            withdrawn=Count("pk", filter=Q(decision=DuplicateDecision.WITHDRAW)),
            unreviewed=Count("pk", filter=Q(decision="")),
        )
    )
    counts = {pk: dict.fromkeys(COUNT_NAMES, 0) for pk in window_ids}
    for row in rows:
        counts[row.pop("entry__window_id")] = row
    return counts


# --- Decisions --------------------------------------------------------------------------------


def _checked_note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise DomainError("note_required", _("Give a short reason for the decision."))
    return note[:200]


def _open_flag(flag_id: int, actor) -> DuplicateFlag:
    """The flag, for a supervisor of its prefecture, with its window locked and still open to
    reviews; refuses otherwise."""
    flag = DuplicateFlag.objects.select_related("entry__window__prefecture").filter(pk=flag_id)
    flag = flag.annotate(similar_entry_pk=_similar_entry_pk()).first()
    if flag is None:
        raise _not_found()
    window = flag.entry.window
    _check_supervisor(actor, window.prefecture_id)
    # The window's row lock orders this review against the freeze's UPDATE of the row (module
    # docstring); "no key": registrations' inserts into the window (a key-share lock for
    # their foreign key) do not wait for it. The time is read after the lock is held, in a
    # statement of its own.
    locked = Window.objects.select_for_update(no_key=True).filter(pk=window.pk)
    list(locked.values_list("pk"))
    if not Window.objects.filter(_reviewable(), pk=window.pk).exists():
        raise Conflict(
            "reviews_closed",
            _("The lists of this window are frozen: its duplicate flags can no longer be decided."),
        )
    return flag


def _claim(flag: DuplicateFlag, **decision) -> None:
    """Record the decision if the flag has none yet (the conditional UPDATE is the guard: of
    two concurrent decisions one wins, a repeat changes nothing), or refuse."""
    claimed = DuplicateFlag.objects.filter(pk=flag.pk, decision="").update(
        decided_at=Now(), **decision
    )
    if not claimed:
        raise Conflict("flag_decided", _("This flag was already reviewed: nothing was changed."))
    flag.refresh_from_db(fields=["decision", "decided_by", "decided_at", "withdrawn_entry", "note"])


def review_keep_both(*, flag_id: int, actor, note: str) -> DuplicateFlag:
    """Two different people: both entries stay. Refused (DomainError) for a non-supervisor, for
    another prefecture's flag (as not found), after the freeze, and for a flag already
    decided."""
    note = _checked_note(note)
    with transaction.atomic(durable=True):
        flag = _open_flag(flag_id, actor)
        _claim(flag, decision=DuplicateDecision.KEEP_BOTH, decided_by=actor, note=note)
        audit.record(
            "duplicate.kept_both",
            actor=actor,
            target=flag,
            prefecture_id=flag.entry.window.prefecture_id,
            entry_id=flag.entry.entry_id,
        )
    return flag


def review_withdraw(*, flag_id: int, entry_pk: int, actor, note: str) -> DuplicateFlag:
    """One person registered twice: the chosen entry of the pair (`entry_pk`) is withdrawn and
    its applicant, if they left a contact, is told why and how to contest it. Refused as
    `review_keep_both` is, and for an entry outside the pair or no longer registered."""
    note = _checked_note(note)
    with transaction.atomic(durable=True):
        flag = _open_flag(flag_id, actor)
        if entry_pk not in (flag.entry_id, flag.similar_entry_pk):
            raise DomainError("not_in_pair", _("Choose one of the two entries of this flag."))
        entry = Entry.objects.select_related("contact", "window__prefecture").get(pk=entry_pk)
        _claim(
            flag,
            decision=DuplicateDecision.WITHDRAW,
            decided_by=actor,
            note=note,
            withdrawn_entry=entry,
        )
        withdrawn = Entry.objects.filter(pk=entry.pk, status__in=WITHDRAWABLE).update(
            status=EntryStatus.WITHDRAWN
        )
        if not withdrawn:
            raise Conflict(
                "entry_not_registered",
                _("This entry is no longer registered: it cannot be withdrawn."),
            )
        if entry.contact_id:
            enqueue_message(**withdrawal_message(entry))
        audit.record(
            "duplicate.withdrawn",
            actor=actor,
            target=flag,
            prefecture_id=entry.window.prefecture_id,
            entry_id=entry.entry_id,
        )
    return flag


def withdrawal_message(entry: Entry) -> dict:
    """The message telling an applicant (`entry.contact`) that their entry was withdrawn as a
    likely duplicate, and where to contest it, as OutboxMessage's fields, in the language of
    the contact (`Contact.language`)."""
    language = entry.contact.language
    with translation.override(language):
        body = gettext(
            "Fairslot %(pseudonym)s: your registration was withdrawn as a likely duplicate of "
            "another one. To contest it, come to the desk of %(prefecture)s with your papers."
        ) % {"pseudonym": entry.pseudonym, "prefecture": entry.window.prefecture.name}
    return {
        "channel": entry.contact.kind,
        "recipient": entry.contact.value,
        "body": for_sms(body, language) if entry.contact.kind == ContactKind.PHONE else body,
        "subject": "Fairslot",
        "dedup_key": f"duplicate-withdrawn:{entry.entry_id}",
    }
