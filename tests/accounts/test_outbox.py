"""The outbox: written with the decision, delivered at least once, never twice by two workers."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from accounts import outbox
from accounts.models import OutboxMessage, OutboxState
from accounts.sms import HttpGatewayBackend, OutboxOnlyBackend, SmsError


@pytest.fixture
def sms_sent(settings):
    settings.SMS_BACKEND = "accounts.sms.OutboxOnlyBackend"
    OutboxOnlyBackend.sent = []
    return OutboxOnlyBackend.sent


def _enqueued(**fields) -> OutboxMessage:
    outbox.enqueue_message(**fields)
    return OutboxMessage.objects.get(dedup_key=fields["dedup_key"])


def test_enqueue_same_dedup_key_twice_keeps_one_message(db):
    outbox.enqueue_message(channel="phone", recipient="+33612345678", body="hi", dedup_key="k1")
    outbox.enqueue_message(channel="phone", recipient="+33612345678", body="again", dedup_key="k1")

    assert list(OutboxMessage.objects.values_list("body", flat=True)) == ["hi"]


def test_deliver_sends_once_and_marks_sent(db, sms_sent):
    message = _enqueued(channel="phone", recipient="+33612345678", body="hello", dedup_key="k2")

    first = outbox.deliver_message(message_id=message.pk)
    again = outbox.deliver_message(message_id=message.pk)

    assert (first, again) == (OutboxState.SENT, "skipped")
    assert sms_sent == [{"to": "+33612345678", "body": "hello", "dedup_key": "k2"}]


def test_expired_code_message_is_not_sent(db, sms_sent):
    message = _enqueued(
        channel="phone",
        recipient="+33612345678",
        body="code",
        dedup_key="k3",
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert outbox.deliver_message(message_id=message.pk) == OutboxState.EXPIRED
    assert sms_sent == []


def test_failed_delivery_is_retried_later(db, settings, monkeypatch):
    def broken(self, **kwargs):
        raise SmsError("gateway down")

    monkeypatch.setattr(OutboxOnlyBackend, "send", broken)
    settings.SMS_BACKEND = "accounts.sms.OutboxOnlyBackend"
    message = _enqueued(channel="phone", recipient="+33612345678", body="x", dedup_key="k4")

    state = outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert state == OutboxState.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at > timezone.now()


def test_message_left_sending_by_a_killed_worker_is_reclaimed(db, sms_sent):
    message = _enqueued(channel="phone", recipient="+33612345678", body="x", dedup_key="k5")
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now() - timedelta(minutes=6)
    )

    assert outbox.deliver_pending() == 1
    assert len(sms_sent) == 1


def test_http_gateway_posts_with_token_and_idempotency_key(settings):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((dict(self.headers), json.loads(self.rfile.read(length))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.SMS_GATEWAY_TOKEN = "t0ken"

    HttpGatewayBackend().send(to="+33612345678", body="hi", dedup_key="otp:1:1")
    server.server_close()

    headers, body = received[0]
    assert body == {"to": "+33612345678", "text": "hi"}
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["Idempotency-Key"] == "otp:1:1"


def test_http_gateway_unreachable_raises_sms_error(settings):
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"

    with pytest.raises(SmsError):
        HttpGatewayBackend().send(to="+33612345678", body="hi", dedup_key="k")


def _enqueue_committed(key: str, capture) -> OutboxMessage:
    with capture(execute=True):
        return _enqueued(channel="phone", recipient="+33612345678", body="x", dedup_key=key)


@pytest.fixture
def kicked(monkeypatch):
    from accounts import tasks

    runs = []
    monkeypatch.setattr(tasks.task_deliver_outbox, "delay", lambda: runs.append(1))
    return runs


def test_enqueue_asks_a_worker_after_commit_only(db, kicked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox.enqueue_message(channel="phone", recipient="+33612345678", body="x", dedup_key="k6")
        assert kicked == []

    assert len(callbacks) == 1
    assert kicked == [1]


def test_kicks_are_coalesced_while_a_run_is_queued(
    db, settings, kicked, sms_sent, django_capture_on_commit_callbacks
):
    settings.OUTBOX_COALESCE_KICKS = True
    outbox.cache.delete(outbox.KICK_FLAG)

    for key in ("c1", "c2", "c3"):
        _enqueue_committed(key, django_capture_on_commit_callbacks)
    assert kicked == [1]  # one run queued for the three messages

    assert outbox.deliver_pending() == 3  # the run delivers all three, and clears the flag
    _enqueue_committed("c4", django_capture_on_commit_callbacks)
    assert kicked == [1, 1]  # a message after the run started asks for a new run
    assert outbox.deliver_pending() == 1
    assert len(sms_sent) == 4


def test_kicks_are_not_coalesced_without_a_shared_cache(
    db, settings, kicked, django_capture_on_commit_callbacks
):
    settings.OUTBOX_COALESCE_KICKS = False

    for key in ("n1", "n2"):
        _enqueue_committed(key, django_capture_on_commit_callbacks)

    assert kicked == [1, 1]


def test_kick_goes_out_when_the_cache_is_down(
    db, settings, monkeypatch, kicked, sms_sent, django_capture_on_commit_callbacks
):
    settings.OUTBOX_COALESCE_KICKS = True

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(outbox.cache, "add", down)
    monkeypatch.setattr(outbox.cache, "delete", down)
    _enqueue_committed("d1", django_capture_on_commit_callbacks)
    _enqueue_committed("d2", django_capture_on_commit_callbacks)

    assert kicked == [1, 1]
    assert outbox.deliver_pending() == 2  # and the run delivers without the flag


def test_enqueue_survives_a_broker_outage(db, monkeypatch, django_capture_on_commit_callbacks):
    from accounts import tasks

    def down():
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.task_deliver_outbox, "delay", down)

    message = _enqueue_committed("k7", django_capture_on_commit_callbacks)

    assert OutboxMessage.objects.get(pk=message.pk).state == OutboxState.PENDING


def test_a_run_delivers_in_batches_and_asks_for_more_when_out_of_time(
    db, kicked, sms_sent, django_capture_on_commit_callbacks
):
    for i in range(5):
        outbox.enqueue_message(
            channel="phone", recipient="+33612345678", body="x", dedup_key=f"b{i}"
        )

    assert outbox.deliver_pending(limit=2, budget=-1) == 2  # one batch, then out of time
    assert kicked == [1]  # the rest is asked for
    assert outbox.deliver_pending(limit=2) == 3  # batches until one is not full
    assert sorted(m["dedup_key"] for m in sms_sent) == [f"b{i}" for i in range(5)]
