"""The audit log: one row per state change, written inside the service's transaction.

Every row names its actor: a staff user, "applicant", or the named task or command that runs
(`acting_as`, set for every Celery task and management command); a row without one is refused.
Rows are chained in commit order: a writer locks the chain's head (`AuditHead`), takes the
database's time, and stores the SHA-256 of the previous row's canonical form, so anyone can
walk the chain (`verify`) and find the first row that was edited, deleted, inserted or
back-dated. Never put personal data in a row: ids and pseudonyms only.

The head lock serialises the writers of audit rows from their first row to their commit, so a
service writes its rows after its other locks (the head is always the last lock taken: no
deadlock) and long transactions (the freeze, the draw) write theirs at the end.
"""

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

from accounts.models import AuditEvent, AuditHead, PublishedAuditHead

HEAD = 1
_acting = ContextVar("audit_actor", default="")


@contextmanager
def acting_as(label: str):
    """Rows written without an explicit actor inside this block name `label` (a task's or a
    command's name)."""
    token = _acting.set(label)
    try:
        yield
    finally:
        _acting.reset(token)


def acted_by(label: str):
    """Decorator: the function's rows name `label` (a management command's `handle`)."""

    def decorate(function):
        @wraps(function)
        def wrapper(*args, **kwargs):
            with acting_as(label):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def record(action: str, **kwargs) -> AuditEvent:
    """Write one audit event now (arguments as for `event_for`)."""
    event = event_for(action, **kwargs)
    record_many([event])
    return event


def record_many(events: list[AuditEvent]) -> None:
    """Chain and insert events built by `event_for`, in one statement."""
    if not events:
        return
    head = _locked_head()
    at = max(head.db_now, head.at) if head.at else head.db_now
    seq, previous = head.seq, head.hash
    for event in events:
        seq += 1
        event.seq, event.at, event.prev_hash = seq, at, previous
        previous = row_hash(event)
    AuditEvent.objects.bulk_create(events)
    AuditHead.objects.filter(pk=HEAD).update(seq=seq, hash=previous, at=at)


def database_now() -> datetime:
    """The database's clock (the statement's time on PostgreSQL), read off the head's row: the
    one row every database has. Times that prove something (registration, freeze, reveal, draw,
    answer, check-in) come from here or from `Now()` in the statement, never from a process's
    clock, which may drift from one machine to the next."""
    return _head(AuditHead.objects.all()).db_now


def _locked_head() -> AuditHead:
    # The time is read with the lock (Now() is the statement's time on PostgreSQL); `at` never
    # goes back, even if a transaction that started earlier commits later.
    return _head(AuditHead.objects.select_for_update())


def _head(rows) -> AuditHead:
    """The head's row of `rows`, with the database's time as `db_now`; a new database (or one
    flushed by a test) gets its head from the first caller."""
    rows = rows.filter(pk=HEAD).annotate(db_now=Now())
    head = rows.first()
    if head is None:
        AuditHead.objects.get_or_create(pk=HEAD)
        head = rows.get()
    return head


def event_for(
    action: str,
    *,
    actor=None,
    target: models.Model | None = None,
    prefecture_id: int | None = None,
    reference: str = "",
    **data,
) -> AuditEvent:
    """An unsaved audit event. `actor` is a user or a label ("applicant", a task's name); by
    default the label set by `acting_as`. `reference` is the person's pseudonym, if any."""
    user = actor if getattr(actor, "pk", None) else None
    label = user.get_username() if user else (actor if isinstance(actor, str) else _acting.get())
    if not label:
        raise ValueError(f"audit row {action!r} names no actor")
    return AuditEvent(
        action=action,
        actor=user,
        actor_label=label[:64],
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        reference=reference or _pseudonym(target),
        prefecture_id=prefecture_id,
        # Stored as JSON, hashed as read back: dates and decimals become strings once, here.
        data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    )


def _pseudonym(target) -> str:
    pseudonym = getattr(target, "pseudonym", "")
    return pseudonym if isinstance(pseudonym, str) else ""


def canonical(event: AuditEvent) -> bytes:
    """The bytes a row's successor hashes: every column but the id, in a fixed order."""
    fields = [
        event.seq,
        event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.actor_id,
        event.actor_label,
        event.action,
        event.target_type,
        event.target_id,
        event.reference,
        event.prefecture_id,
        event.data,
        event.prev_hash,
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def publish_head(*, day) -> PublishedAuditHead | None:
    """Record the chain's head for the public page, once a day (a repeat the same day is a
    no-op). None while the log is empty."""
    head = AuditHead.objects.filter(pk=HEAD, seq__gt=0).first()
    if head is None:
        return None
    published, _created = PublishedAuditHead.objects.get_or_create(
        day=day, defaults={"seq": head.seq, "hash": head.hash}
    )
    return published


@dataclass(frozen=True)
class Break:
    """Where the chain does not fit: the row's number and what is wrong."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"row #{self.seq}: {self.problem}"


def verify(rows, *, head: AuditHead | None, published: dict[int, str]) -> Break | None:
    """Walk `rows` (every AuditEvent, in seq order) and return the first break, or None.
    `published` maps a seq to the head hash published for it."""
    expected, previous, previous_at = 1, "", None
    for row in rows:
        if row.seq != expected:
            return Break(expected, f"missing: the chain jumps from #{expected - 1} to #{row.seq}")
        if row.prev_hash != previous:
            return Break(
                row.seq,
                f"does not follow #{row.seq - 1}: one of the two was edited, "
                "or a row was inserted between them",
            )
        if previous_at is not None and row.at < previous_at:
            return Break(row.seq, f"back-dated: {row.at.isoformat()} is before #{row.seq - 1}")
        previous, previous_at = row_hash(row), row.at
        if row.seq in published and published[row.seq] != previous:
            return Break(row.seq, "differs from the head published for it")
        expected += 1
    last = expected - 1
    return _check_end(last, previous, head, published)


def _check_end(last: int, last_hash: str, head, published: dict[int, str]) -> Break | None:
    cut = [seq for seq in published if seq > last]
    if cut:
        return Break(
            last + 1, f"missing: the log ends at #{last}, a head was published at #{max(cut)}"
        )
    head_seq, head_hash = (head.seq, head.hash) if head else (0, "")
    if head_seq > last:
        return Break(last + 1, f"missing: the log ends at #{last}, its head is #{head_seq}")
    if head_seq < last:
        return Break(head_seq + 1, "written outside the audit service (after the head)")
    if head_hash != last_hash:
        return Break(last, "edited: it no longer matches the chain's head")
    return None
