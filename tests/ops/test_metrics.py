"""/metrics: refused without its token, and the figures an operator watches."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from accounts import contacts, otp, outbox
from config.errors import DomainError

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef0123456789"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def _scrape(token: str) -> dict:
    """{(name, labels as a sorted tuple): value} of one scrape."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_without_a_configured_token_do_not_exist():
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything")

    assert (settings.METRICS_TOKEN, response.status_code) == ("", 404)


def test_metrics_refuse_a_missing_or_wrong_token(token):
    client = Client()

    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "x" * len(token))

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_metrics_count_requests_by_route_name_and_status(token):
    key = ("fairslot_http_requests_total", (("method", "GET"), ("route", "draw-detail"),
                                            ("status", "404")))  # fmt: skip
    before = _scrape(token).get(key, 0)

    Client().get("/draws/NO-SUCH-DRAW/")
    Client().get("/draws/NO-SUCH-DRAW-EITHER/")

    assert _scrape(token).get(key, 0) - before == 2


def test_metrics_count_codes_sent_and_refused_with_the_reason(token):
    contact = contacts.get_or_create_contact(kind="email", value="canary@example.org")
    sent = ("fairslot_codes_sent_total", (("channel", "email"),))
    refused = ("fairslot_codes_refused_total", (("reason", "code_cooldown"),))
    before = _scrape(token)

    otp.send_code(contact=contact, client_ip="192.0.2.1", proof_ok=True)
    with pytest.raises(DomainError) as second:
        otp.send_code(contact=contact, client_ip="192.0.2.1", proof_ok=True)

    after = _scrape(token)
    assert second.value.code == "code_cooldown"
    assert after[sent] - before.get(sent, 0) == 1
    assert after[refused] - before.get(refused, 0) == 1


def test_metrics_report_the_outbox_backlog_and_the_sms_budget(token, settings, caplog):
    settings.SMS_DAILY_BUDGET = 1000
    for n in range(3):
        outbox.enqueue_message(channel="sms", recipient="+33612345678", body="b", dedup_key=f"k{n}")

    scraped = _scrape(token)

    assert scraped[("fairslot_outbox_backlog", (("channel", "sms"),))] == 3
    assert scraped[("fairslot_outbox_oldest_age_seconds", ())] >= 0
    assert scraped[("fairslot_sms_budget_remaining", (("part", "all"),))] == 1000
    assert scraped[("fairslot_sms_budget_remaining", (("part", "new_contacts"),))] == 700
    # A store that does not answer leaves its gauge out and logs why: shown if it happens.
    depth = ("fairslot_celery_queue_depth", (("queue", "celery"),))
    assert depth in scraped, caplog.text
    assert scraped[depth] >= 0


def test_metrics_report_entries_and_appointments_by_state(token):
    from tests.factories import EntryFactory

    EntryFactory.create_batch(2)

    scraped = _scrape(token)

    entries = {labels: value for (name, labels), value in scraped.items()
               if name == "fairslot_entries"}  # fmt: skip
    assert sum(entries.values()) == 2


COUNT_ONE = """
import django
django.setup()
from config import counters
counters.count_request(route="home", method="GET", status=200, seconds=0.01)
"""
SCRAPE = """
import django
django.setup()
from django.test import Client
print(Client().get("/metrics", HTTP_AUTHORIZATION="Bearer {token}").content.decode())
"""


def test_metrics_sum_the_counts_of_every_web_process(tmp_path):
    # gunicorn's workers are processes: each writes its counts under PROMETHEUS_MULTIPROC_DIR and
    # the scrape, in whichever worker it lands, reads them all.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "METRICS_TOKEN": TOKEN,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}  # fmt: skip

    def run(code: str) -> str:
        result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    run(COUNT_ONE)
    run(COUNT_ONE)
    scraped = run(SCRAPE.format(token=TOKEN))

    assert 'fairslot_http_requests_total{method="GET",route="home",status="200"} 2.0' in scraped


def test_grafana_dashboard_queries_only_metrics_that_exist(token):
    from django.core.cache import cache

    from config.counters import LAST_DRAW_SECONDS_KEY

    cache.set(LAST_DRAW_SECONDS_KEY, 1.5)
    dashboard = (settings.BASE_DIR / "docs" / "grafana-dashboard.json").read_text()
    queried = set(re.findall(r"fairslot_\w+", dashboard))

    exposed = {name for name, _labels in _scrape(token)} | {
        family.name
        for family in text_string_to_metric_families(
            Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()
        )
    }

    assert sorted(queried - exposed - {f"{name}_total" for name in exposed}) == []
