"""Applicants' one-time codes: contacts, sending under limits, verification with lockout.

Codes: 6 digits from the CSPRNG, valid 10 minutes, single use, a new one voids the previous one,
stored as a keyed hash, at most 5 tries each. 10 consecutive failures lock the contact for 15
minutes, doubling on each repeat. Codes never appear in logs or audit rows.
"""

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, outbox, ratelimit
from accounts.crypto import blind_index
from accounts.inserts import insert, insert_or_skip, insert_write
from accounts.models import Contact, ContactCodeDevice, ContactKind, OutboxMessage
from accounts.prepared import Joined, Prepared, PreparedUpdate
from accounts.together import From, Write, chain, chains, guarded, returning, together_if
from config.errors import DomainError, Throttled

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_TRIES_PER_CODE = 5
FAILURES_BEFORE_LOCK = 10
LOCK_BASE = timedelta(minutes=15)
SEND_LIMITS = [(3, 15 * 60), (5, 24 * 3600)]  # per contact: (count, period in seconds)
IP_LIMIT_WITH_PROOF = 30  # per hour
IP_LIMIT_WITHOUT_PROOF = 5  # per hour, for browsers without JavaScript


_CONTACT, _DEVICE = Joined(Contact), Joined(ContactCodeDevice)
_CONTACT_WITH_DEVICE = Joined(Contact, ("device", ContactCodeDevice))
_KNOWN_CONTACT = Prepared(
    lambda value_hash: Contact.objects.filter(value_hash=value_hash).values_list(
        *_CONTACT_WITH_DEVICE.names()
    ),
    str,
)
_CONTACT_BY_HASH = Prepared(
    lambda value_hash: Contact.objects.filter(value_hash=value_hash).values_list(*_CONTACT.names()),
    str,
)
_DEVICE_OF_CONTACT = Prepared(
    lambda contact_pk: ContactCodeDevice.objects.filter(contact_id=contact_pk).values_list(
        *_DEVICE.names()
    ),
    int,
)


def get_or_create_contact(*, kind: str, value: str) -> Contact:
    """`value` must already be normalised (E.164 phone, lower-case e-mail). The contact comes
    with its code device (`contact.device`) already loaded.

    Known or new, the contact costs the same statements, so that the time of the answer says
    little about whether this phone or e-mail was used before (bench/enumeration.py): the user
    row, whose name derives from the contact, is inserted first; for a known contact that insert
    meets the unique name and writes nothing, and the contact with its device is read; for a
    new one the contact and the device are inserted. On PostgreSQL that is one statement either
    way (`accounts.together.chain`); elsewhere three. Two requests creating the same contact
    meet on that row too: the loser waits for the winner and reads its rows. All three rows or
    none, inside the caller's transaction, without a savepoint of its own."""
    value_hash = blind_index("contact", value)
    if chains():  # one statement: no transaction of its own
        return _contact_in_one_statement(kind, value, value_hash)
    user = _user_for(value_hash)
    with transaction.atomic(savepoint=False):
        if not insert_or_skip(user):
            return _known_contact(value_hash)
        contact = Contact(user=user, kind=kind, value=value, value_hash=value_hash)
        insert(contact)
        contact.device = ContactCodeDevice(user=user, contact=contact, name=kind, confirmed=True)
        insert(contact.device)
    return contact


def _known_contact(value_hash: str) -> Contact:
    """A contact that exists, with its device: two reads, as a new one costs two inserts."""
    (contact,) = _CONTACT.split(_CONTACT_BY_HASH.rows(value_hash)[0])
    (contact.device,) = _DEVICE.split(_DEVICE_OF_CONTACT.rows(contact.pk)[0])
    return contact


def _user_for(value_hash: str):
    """The contact's user row, not saved: its name derives from the contact (unique)."""
    # Unusable, as set_unusable_password() makes it, with its random part drawn at once
    # (Django draws 40 characters one by one: 65 us, a new contact's costliest field).
    unusable = UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)
    return get_user_model()(username=f"c-{value_hash[:24]}", password=unusable)


def _contact_parts(contact: Contact, device: ContactCodeDevice, only_if: Write | None = None):
    """The first parts of a `chain` for a contact, known or new: w0 inserts the user row unless
    it is there (then the contact is known), w1 and w2 insert a new contact and its `device`,
    w3 reads a known contact with its device, as columns c0, c1, ... Returns the parts, the names
    of w3's columns, and what makes rows of those columns into results (decryption).
    `only_if`: an SQL condition without which none of it is written or read (w0 and w3, on
    which all the rest depends). `contact`: the new contact's row, not saved."""
    read = _KNOWN_CONTACT.read(contact.value_hash)
    names = [f"c{i}" for i in range(len(_columns(Contact)) + len(_columns(ContactCodeDevice)))]
    user = insert_write(_user_for(contact.value_hash), OnConflict.IGNORE)
    known = Write(
        f"SELECT * FROM ({read.sql}) AS fs_known({', '.join(names)}) "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM w0)",
        read.params,
    )
    if only_if is not None:
        user, known = guarded(user, only_if), guarded(known, only_if)
    parts = [
        user,
        returning(insert_write(contact, links={"user_id": From(0)}), _columns(Contact)),
        returning(
            insert_write(device, links={"user_id": From(0), "contact_id": From(1)}),
            _columns(ContactCodeDevice),
        ),
        known,
    ]
    return parts, names, read.done


def _contact_in_one_statement(kind: str, value: str, value_hash: str) -> Contact:
    parts, _names, convert = _contact_parts(
        Contact(kind=kind, value=value, value_hash=value_hash),
        ContactCodeDevice(name=kind, confirmed=True),
    )
    # The new rows as inserted, or, when the user row was there already, the known ones: the
    # same columns (and decryption) either way.
    rows = chain(
        *parts, final=Write("SELECT w1.*, w2.* FROM w1, w2 UNION ALL SELECT * FROM w3", [], convert)
    )
    if not rows:
        # Created by a concurrent request that committed while this statement waited on its
        # user row, after the statement's snapshot: read it now.
        return _known_contact(value_hash)
    contact, contact.device = _CONTACT_WITH_DEVICE.split(rows[0])
    return contact


def _columns(model) -> list[str]:
    """The model's columns in the order `Joined` reads them."""
    return [field.column for field in model._meta.concrete_fields]


def _code_hash(value_hash: str, code: str) -> str:
    """The stored form of a code, bound to its contact by the contact's blind index (known
    before the contact's row is written)."""
    key = hashlib.sha256(f"fairslot/otp/{settings.BLIND_INDEX_KEY}".encode()).digest()
    return hmac.new(key, f"{value_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _lock_error(device: ContactCodeDevice, now) -> Throttled:
    return Throttled(
        "contact_locked",
        _(
            "Too many wrong codes. This contact is locked for a while; try again "
            "later or ask at the prefecture's counter."
        ),
        retry_after=int((device.locked_until - now).total_seconds()) + 1,
    )


def _locked(device: ContactCodeDevice):
    now = timezone.now()
    if device.locked_until and device.locked_until > now:
        raise _lock_error(device, now)


def _message(code: str, language: str) -> str:
    with translation.override(language):
        # Kept in the GSM-7 alphabet (no accents) so that one SMS carries it.
        return gettext(
            "Fairslot: your code is %(code)s. It expires in 10 minutes. Never give it to anyone."
        ) % {"code": code}


def check_send_limits(*, kind: str, value_hash: str, client_ip: str, proof_ok: bool) -> None:
    """Count a code sent to the contact whose blind index is `value_hash`, or raise Throttled
    (or Busy: fail closed) if a sending limit is reached. Needs no contact row, so that a
    refused request writes nothing."""
    rules = [
        ratelimit.Hit(
            f"ip:{client_ip}", IP_LIMIT_WITH_PROOF if proof_ok else IP_LIMIT_WITHOUT_PROOF, 3600
        ),
        ratelimit.Cooldown(f"send:{value_hash}", 60),
        *(ratelimit.Hit(f"send:{value_hash}", limit, period) for limit, period in SEND_LIMITS),
    ]
    if kind == ContactKind.PHONE:
        rules.append(ratelimit.Hit("sms-budget", settings.SMS_DAILY_BUDGET, 24 * 3600))
    ratelimit.check(*rules)


_ISSUE = PreparedUpdate(
    lambda pk, sent_count, now, token, valid_until: (
        ContactCodeDevice.objects.filter(pk=pk, sent_count=sent_count).exclude(
            locked_until__gt=now
        ),
        {
            "token": token,
            "valid_until": valid_until,
            "attempts": 0,
            "sent_count": F("sent_count") + 1,  # = the count read + 1, which the WHERE holds
        },
    ),
    int, int, datetime, str, datetime,
)  # fmt: skip


def _issue(
    device: ContactCodeDevice, token: str, now, writes_for, last_saved: bool
) -> tuple[ContactCodeDevice, bool]:
    """Store a new code on the device, voiding the previous one, unless the contact is locked;
    with it, `writes_for(n)`, the writes that go with the n-th code sent (its message; the last
    one saved if `last_saved`, see `together_if`). Returns the device and whether the code was
    stored."""
    valid_until = now + CODE_TTL
    # Usually the device is as we read it with the contact: then one conditional UPDATE does it
    # (the row lock is the UPDATE's own, and the WHERE is rechecked on the latest row version),
    # and only then the writes, in the same statement on PostgreSQL (no transaction needed).
    issue = _ISSUE.write(device.pk, device.sent_count, now, token, valid_until)
    if not together_if(issue, *writes_for(device.sent_count + 1), last_saved=last_saved):
        # Locked, or changed since we read it: decide on the locked row, on which the same
        # UPDATE then holds.
        with transaction.atomic():
            device = ContactCodeDevice.objects.select_for_update().get(pk=device.pk)
            if device.locked_until and device.locked_until > now:
                return device, False
            issue = _ISSUE.write(device.pk, device.sent_count, now, token, valid_until)
            together_if(issue, *writes_for(device.sent_count + 1), last_saved=last_saved)
    device.token, device.valid_until, device.attempts = token, valid_until, 0
    device.sent_count += 1
    return device, True


def send_code(*, contact: Contact, client_ip: str, proof_ok: bool, language: str = "fr") -> None:
    """Generate a new code for `contact` and put it in the outbox, under every sending limit."""
    check_send_limits(
        kind=contact.kind, value_hash=contact.value_hash, client_ip=client_ip, proof_ok=proof_ok
    )
    issue_code(contact=contact, language=language)


def issue_code(*, contact: Contact, language: str = "fr", along: Sequence[Write] = ()) -> None:
    """Generate a new code for `contact` and put it in the outbox, with `along` (the caller's
    writes, made only if the code is: in one statement on PostgreSQL, where this needs no
    transaction), unless the contact is locked (raises Throttled). The last of `along`, an
    insert without ON CONFLICT, is saved (its key set). The sending limits are the caller's to
    check first (`check_send_limits`)."""
    code, now = f"{secrets.randbelow(10**6):06d}", timezone.now()
    body = _message(code, language)

    def writes_for(count: int) -> list[Write]:  # the count-th code sent to this contact
        return [*_code_writes(contact, body, now, f"otp:{contact.device.pk}:{count}"), *along]

    token = _code_hash(contact.value_hash, code)
    device, issued = _issue(contact.device, token, now, writes_for, last_saved=bool(along))
    contact.device = device
    if not issued:
        raise _lock_error(device, now)
    outbox.kick_after_commit()


def _code_writes(contact: Contact, body: str, now, dedup_key, contact_id=None) -> list[Write]:
    """The audit row and the message of a code sent to `contact`. For a contact written in the
    same statement (`chain`), `contact_id` and `dedup_key` are `From`s."""
    linked = isinstance(dedup_key, From)
    message = OutboxMessage(
        channel=contact.kind,
        recipient=contact.value,
        body=body,
        subject="Fairslot",
        dedup_key="" if linked else dedup_key,
        expires_at=now + CODE_TTL,
    )
    return [
        audit.write(
            "otp.sent", target=contact, links={"target_id": contact_id} if contact_id else None
        ),
        insert_write(
            message, OnConflict.IGNORE, links={"dedup_key": dedup_key} if linked else None
        ),
    ]


# `contact_with_code`'s part that returns the contact's key (column "contact_id") once its code
# is issued: the caller's writes take it as `From(CODE_ISSUED, "contact_id")`.
CODE_ISSUED = 5


def contact_with_code(
    *,
    kind: str,
    value: str,
    along: Sequence[Write],
    language: str = "fr",
    only_if: Write | None = None,
) -> tuple[Contact, Any] | None:
    """PostgreSQL: `get_or_create_contact` then `issue_code`, in one statement. Known contact or
    new, the same statement (the answer's time says nothing of which). `along`: the caller's
    writes, made only if the code is, which may take the contact's key as
    `From(CODE_ISSUED, "contact_id")`; the last of them must return its key.

    Returns the contact with its device and the key the last of `along` returned (None if the
    code was not issued: a locked contact, or a device changed since this statement's snapshot;
    the caller then goes on with `issue_code`, which decides on the locked row). None instead
    of a pair: the contact was committed by another request while this statement waited on it;
    the caller then goes the usual way (`get_or_create_contact`, `issue_code`). The sending
    limits are the caller's to check first (`check_send_limits`). `only_if`: an SQL condition
    (e.g. the window is open, by database time) without which nothing is written: None too."""
    if not along:
        raise ValueError("contact_with_code needs the caller's writes: their key says it all")
    value_hash = blind_index("contact", value)
    code, now = f"{secrets.randbelow(10**6):06d}", timezone.now()
    token = _code_hash(value_hash, code)
    contact = Contact(kind=kind, value=value, value_hash=value_hash)
    # A new contact's device is inserted with its first code; a known one's is updated.
    device = ContactCodeDevice(
        name=kind, confirmed=True, token=token, valid_until=now + CODE_TTL, sent_count=1
    )
    parts, names, convert = _contact_parts(contact, device, only_if)
    device_at = len(_columns(Contact))
    device_columns = _columns(ContactCodeDevice)
    device_id = names[device_at + device_columns.index(ContactCodeDevice._meta.pk.column)]
    sent_count = names[device_at + device_columns.index("sent_count")]
    issue = _ISSUE.write(From(3, device_id), From(3, sent_count), now, token, now + CODE_TTL)
    quote = connection.ops.quote_name
    table = quote(ContactCodeDevice._meta.db_table)
    issued_columns = ", ".join(f"{table}.{quote(c)}" for c in ("id", "contact_id", "sent_count"))
    issued = "SELECT id, contact_id, 'otp:' || id || ':' || sent_count AS dedup_key FROM"
    # The key of the caller's last write, and whether the contact is new.
    last = f"(SELECT id FROM w{CODE_ISSUED + 2 + len(along)})"  # noqa: S608 (a part)
    rows = chain(
        *parts,
        Write(f"{issue.sql} RETURNING {issued_columns}", issue.params),
        Write(f"{issued} w2 UNION ALL {issued} w4", []),
        *_code_writes(
            contact,
            _message(code, language),
            now,
            From(CODE_ISSUED, "dedup_key"),
            contact_id=From(CODE_ISSUED, "contact_id"),
        ),
        *along,
        final=Write(
            f"SELECT w1.*, w2.*, {last}, true FROM w1, w2 "  # noqa: S608
            f"UNION ALL SELECT w3.*, {last}, false FROM w3",
            [],
            convert,
        ),
    )
    if not rows:
        return None
    contact, contact.device = _CONTACT_WITH_DEVICE.split(rows[0][:-2])
    saved, new = rows[0][-2:]
    if saved is not None and not new:  # a known contact's code, issued by the UPDATE
        device = contact.device
        device.token, device.valid_until, device.attempts = token, now + CODE_TTL, 0
        device.sent_count += 1
    if saved is not None:
        outbox.kick_after_commit()
    return contact, saved


def wrong_code() -> DomainError:
    return DomainError("code_wrong", _("This code is not right. Check it and try again."))


_SPEND = PreparedUpdate(
    lambda pk, token, now: (
        ContactCodeDevice.objects.filter(pk=pk, token=token, valid_until__gt=now).exclude(
            locked_until__gt=now
        ),
        {"token": None, "valid_until": now, "attempts": 0, "consecutive_failures": 0},
    ),
    int, str, datetime,
)  # fmt: skip
_VERIFIED = PreparedUpdate(
    lambda pk, now: (
        Contact.objects.filter(pk=pk, verified_at__isnull=True), {"verified_at": now}
    ),
    int, datetime,
)  # fmt: skip


def check_code(*, contact: Contact, code: str, along: Sequence[Write] = ()) -> bool:
    """Check a code. True: it was right, it is spent and the contact is verified; `along`, the
    caller's writes for a right code, are made with that (one statement on PostgreSQL,
    `accounts.together`), and not otherwise. False: it was wrong and the failure is counted;
    the caller refuses with `wrong_code()`. Raises DomainError if it expired or the contact is
    locked. What it writes is committed when it returns, unless the caller holds a transaction.
    """
    candidate = (code or "").strip()
    device = contact.device
    now = timezone.now()
    writes = [audit.write("otp.verified", target=contact), *along]
    if contact.verified_at is None:
        writes.insert(0, _VERIFIED.write(contact.pk, now))
    # A right code, unexpired, on an unlocked contact: one conditional UPDATE checks and spends
    # it, and only then are the writes made; on PostgreSQL one statement, which needs no
    # transaction around it. Only one request can match and clear the token, so it stays single
    # use. (Comparing keyed hashes in SQL leaks nothing useful through timing.)
    hashed = _code_hash(contact.value_hash, candidate)
    if not together_if(_SPEND.write(device.pk, hashed, now), *writes):
        # Find out why on the locked row, and count the failure (committed before the refusal).
        with transaction.atomic():
            device = contact.device = ContactCodeDevice.objects.select_for_update().get(
                pk=device.pk
            )
            _locked(device)
            if not device.token or device.valid_until <= now:
                raise DomainError(
                    "code_expired",
                    _("This code has expired or was already used. Ask for a new one."),
                )
            if not hmac.compare_digest(device.token, hashed):
                _record_failure(device, now)
                return False
            together_if(_SPEND.write(device.pk, device.token, now), *writes)  # the locked row
    device.token, device.valid_until = None, now
    device.attempts = device.consecutive_failures = 0
    if contact.verified_at is None:
        contact.verified_at = now
    return True


def verify_code(*, contact: Contact, code: str) -> None:
    """Check a code; raise DomainError unless it is right. Marks the contact verified."""
    if not check_code(contact=contact, code=code):
        raise wrong_code()  # the failure is counted and committed


def _record_failure(device: ContactCodeDevice, now) -> None:
    device.attempts += 1
    device.consecutive_failures += 1
    if device.attempts >= MAX_TRIES_PER_CODE:
        device.token = None  # this code is spent; a new one must be asked for
    if device.consecutive_failures >= FAILURES_BEFORE_LOCK:
        device.locked_until = now + LOCK_BASE * (2**device.lock_count)
        device.lock_count += 1
        device.consecutive_failures = 0
    device.save()


def purge_expired_challenges() -> int:
    """Forget codes that expired more than a day ago (minimisation)."""
    cutoff = timezone.now() - timedelta(days=1)
    return ContactCodeDevice.objects.filter(token__isnull=False, valid_until__lt=cutoff).update(
        token=None
    )
