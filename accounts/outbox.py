"""The outbox: write a message with the decision, deliver it later, at least once."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from accounts.models import ContactKind, OutboxMessage, OutboxState
from accounts.sms import SmsError, get_backend

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RECLAIM_AFTER = timedelta(minutes=5)
KICK_FLAG = "outbox:delivery-queued"
KICK_FLAG_TTL = 30


def enqueue_message(
    *,
    channel: str,
    recipient: str,
    body: str,
    dedup_key: str,
    subject: str = "",
    expires_at=None,
) -> None:
    """Add a message to the outbox inside the caller's transaction, and ask for its delivery
    once that commits. A second message with the same dedup key is ignored (one INSERT that
    skips a conflicting row: no savepoint, no read first)."""
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        body=body,
        subject=subject,
        dedup_key=dedup_key,
        expires_at=expires_at,
    )
    OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    transaction.on_commit(kick_delivery)


def kick_delivery() -> None:
    """After a commit that wrote messages: ask a worker to deliver the due messages now.

    When the cache is shared by the web and worker processes (Redis: OUTBOX_COALESCE_KICKS),
    kicks are coalesced: while a delivery run is queued and has not started yet, a new message
    rides on it, because the run clears the flag before it reads what is due. That is one
    cache round trip per message instead of a broker message each. If the broker is down, or a
    queued run is lost, the beat's sweep delivers: the outbox row, not the broker, is the
    record (a lost run's flag expires after KICK_FLAG_TTL seconds)."""
    from accounts.tasks import task_deliver_outbox

    if settings.OUTBOX_COALESCE_KICKS:
        try:
            if not cache.add(KICK_FLAG, 1, KICK_FLAG_TTL):
                return  # a run is queued that has not read the due messages yet
        except Exception:
            logger.warning("cache unavailable: delivery kicks are not coalesced")
    try:
        task_deliver_outbox.delay()
    except Exception:
        logger.warning("could not enqueue an outbox delivery run; the sweep will deliver")


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


def deliver_pending(*, limit: int = 200, budget: float = 50.0) -> int:
    """Deliver due messages, in batches of `limit`, for about `budget` seconds at most (more
    is left to the next run, which is asked for); returns how many were sent."""
    # Before reading what is due: a message committed from now on kicks a run of its own (see
    # kick_delivery), one committed before is read below.
    try:
        cache.delete(KICK_FLAG)
    except Exception:
        logger.warning("cache unavailable: could not clear the delivery flag")
    deadline = time.monotonic() + budget
    sent = 0
    while True:
        due = list(
            OutboxMessage.objects.filter(
                # A new message is due at once, whatever the clocks of the web server (which
                # stamped it) and of the database say; a retry once its time has come.
                Q(state=OutboxState.PENDING, attempts=0)
                | Q(state=OutboxState.PENDING, next_attempt_at__lte=Now())
                | Q(state=OutboxState.SENDING, claimed_at__lt=Now() - RECLAIM_AFTER)
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        sent += sum(deliver_message(message_id=pk) == OutboxState.SENT for pk in due)
        if len(due) < limit:
            return sent
        if time.monotonic() > deadline:
            kick_delivery()
            return sent
