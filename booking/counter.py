"""Registration by staff: an agent registers a walk-in person at the counter, and an approved
helper the people they accompany (booking.helpers). The same rules as the web form
(booking.registration): the same normalisation, the same one-entry-per-person-and-procedure
constraint, the same tier, the same likeness flags, the same duplicate refusal. No one-time
code: the agent or helper has the person's papers in front of them, and the audit row names
them (`registered_by` too).

The person's phone or e-mail is optional. When given, it becomes the entry's contact through
accounts.otp, with its three seats, and the receipt goes to it. It is not verified by a code:
the contact stays unverified (`verified_at` unset) until the person logs in with a code of
their own, so it gets no share of the SMS budget kept for verified contacts, and a mistyped
number receives only the receipt (a pseudonym and a link, no personal data).
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts import audit, contacts
from accounts.models import Contact, Role
from booking import entries, registration
from booking.models import Channel, Entry, Window
from booking.registration import RegistrationInput
from config.errors import Forbidden

COUNTER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})


def staff_answers(data: RegistrationInput) -> dict:
    """The answers of a person registered by staff, normalised as on the web (the contact may
    be left out); raises FieldError naming the first bad field."""
    return registration.normalise_answers(data, contact_optional=True)


def _contact(answers: dict) -> Contact | None:
    if not answers["contact"]:
        return None
    return contacts.get_or_create_contact(kind=answers["contact_kind"], value=answers["contact"])


def enter_for_staff(
    *, window: Window, answers: dict, actor, channel: str, language: str
) -> Entry | None:
    """Inside the caller's transaction: the entry of a person registered by `actor` (a staff
    user) through `entries.enter_person`, or None, the refusal audited, if the person
    already holds an entry for the procedure."""
    procedure = registration.check_window(window, answers)
    entry = entries.enter_person(
        window=window,
        answers=answers,
        procedure=procedure,
        contact=_contact(answers),
        channel=channel,
        actor=actor,
        language=language,
    )
    if entry is None:
        # No count per contact as on the web: the person is in front of the agent or helper,
        # and each refusal names them here.
        audit.record(
            "entry.duplicate_refused",
            actor=actor,
            target=window,
            prefecture_id=window.prefecture_id,
            channel=channel,
        )
    return entry


def register_at_counter(
    *, window: Window, data: RegistrationInput, actor, language: str = "fr"
) -> Entry:
    """Register a walk-in person into an open window of the agent's (or supervisor's)
    prefecture: channel COUNTER, `registered_by` the agent, audited as "entry.registered"
    naming them. A duplicate person is refused as on the web ("already_registered", 409), the
    refusal audited; a closed window as on the web ("window_closed", 409)."""
    if actor.role not in COUNTER_ROLES or actor.prefecture_id != window.prefecture_id:
        raise Forbidden(
            "forbidden", _("Only an agent or a supervisor of this prefecture can do this.")
        )
    answers = staff_answers(data)
    with transaction.atomic(durable=True):
        entry = enter_for_staff(
            window=window, answers=answers, actor=actor, channel=Channel.COUNTER, language=language
        )
    if entry is None:  # raised after the commit: the refusal's audit row is kept
        raise entries.already_registered()
    return entry
