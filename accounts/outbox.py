"""The outbox: write a message with the decision, deliver it later, at least once."""

import logging
from datetime import timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from accounts.inserts import insert_or_skip
from accounts.models import ContactKind, OutboxMessage, OutboxState
from accounts.sms import SmsError, get_backend

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RECLAIM_AFTER = timedelta(minutes=5)


def enqueue_message(
    *, channel: str, recipient: str, body: str, dedup_key: str, subject: str = "", expires_at=None
) -> OutboxMessage | None:
    """Add a message to the outbox inside the caller's transaction. A second message with the
    same dedup key is ignored (returns None)."""
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        body=body,
        subject=subject,
        dedup_key=dedup_key,
        expires_at=expires_at,
    )
    if not insert_or_skip(message):  # the dedup key: this message is already in the outbox
        return None
    transaction.on_commit(lambda: _kick(message.pk))
    return message


def _kick(message_id: int) -> None:
    """Ask a worker to deliver now. If the broker is down, the beat's sweep delivers it later:
    the outbox row, not the broker, is the record."""
    from accounts.tasks import task_deliver_message

    try:
        task_deliver_message.delay(message_id)
    except Exception:
        logger.warning("could not enqueue delivery of outbox %s; the sweep will", message_id)


def _claim(message_id: int) -> bool:
    # The conditional UPDATE is the claim: two workers never send the same row at once. A row
    # left in SENDING by a killed worker is reclaimed after RECLAIM_AFTER (at-least-once).
    return bool(
        OutboxMessage.objects.filter(
            Q(state=OutboxState.PENDING)
            | Q(state=OutboxState.SENDING, claimed_at__lt=Now() - RECLAIM_AFTER),
            pk=message_id,
        ).update(state=OutboxState.SENDING, claimed_at=Now(), attempts=F("attempts") + 1)
    )


def _send(message: OutboxMessage) -> None:
    if message.channel == ContactKind.PHONE:
        get_backend().send(to=message.recipient, body=message.body, dedup_key=message.dedup_key)
    else:
        send_mail(message.subject or "Fairslot", message.body, None, [message.recipient])


def deliver_message(*, message_id: int) -> str:
    """Deliver one message if it is due; returns its final state."""
    if not _claim(message_id):
        return "skipped"
    message = OutboxMessage.objects.get(pk=message_id)
    if message.expires_at and message.expires_at <= timezone.now():
        OutboxMessage.objects.filter(pk=message_id).update(state=OutboxState.EXPIRED)
        return OutboxState.EXPIRED
    try:
        _send(message)
    except (SmsError, OSError) as exc:
        failed = message.attempts >= MAX_ATTEMPTS
        delay = timedelta(seconds=min(3600, 15 * 2**message.attempts))
        OutboxMessage.objects.filter(pk=message_id).update(
            state=OutboxState.FAILED if failed else OutboxState.PENDING,
            next_attempt_at=Now() + delay,
        )
        logger.warning(
            "outbox %s delivery failed (attempt %s): %s", message_id, message.attempts, exc
        )
        return OutboxState.FAILED if failed else OutboxState.PENDING
    OutboxMessage.objects.filter(pk=message_id).update(state=OutboxState.SENT, sent_at=Now())
    return OutboxState.SENT


def deliver_pending(*, limit: int = 200) -> int:
    """Deliver due messages; returns how many were sent."""
    due = OutboxMessage.objects.filter(
        Q(state=OutboxState.PENDING, next_attempt_at__lte=Now())
        | Q(state=OutboxState.SENDING, claimed_at__lt=Now() - RECLAIM_AFTER)
    ).values_list("pk", flat=True)[:limit]
    return sum(deliver_message(message_id=pk) == OutboxState.SENT for pk in list(due))
