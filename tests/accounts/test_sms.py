"""The console SMS backend (development): one log record with the text, the number masked."""

import json
import logging

from accounts.sms import ConsoleBackend, masked
from config.logs import JsonFormatter


def test_console_backend_logs_one_record_with_the_text_and_a_masked_number(caplog):
    caplog.set_level(logging.INFO, logger="accounts.sms")

    ConsoleBackend().send(to="+33698765432", body="Fairslot: code 123456", dedup_key="otp:7:1")

    (record,) = caplog.records
    assert record.name == "accounts.sms"
    assert record.getMessage() == (
        "\n----- SMS to +33 •••• 5432 [otp:7:1] -----\nFairslot: code 123456\n-----"
    )
    assert "698765432" not in caplog.text


def test_console_backend_record_is_one_json_line(caplog):
    caplog.set_level(logging.INFO, logger="accounts.sms")

    ConsoleBackend().send(to="+33698765432", body="ligne 1\nligne 2", dedup_key="k")
    line = JsonFormatter().format(caplog.records[0])

    assert "\n" not in line
    assert json.loads(line)["message"].endswith("ligne 1\nligne 2\n-----")


def test_masked_keeps_the_country_code_and_the_last_four_digits():
    assert masked("+33698765432") == "+33 •••• 5432"
    assert masked("+262692123456") == "+262 •••• 3456"
