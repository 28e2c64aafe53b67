"""A form sent back with errors opens on a summary that takes the focus and links to each field."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _summary(html: str) -> str:
    return re.search(r'<div[^>]*id="error-summary".*?</div></div>', html, re.S).group(0)


def test_error_summary_takes_the_focus_and_links_to_each_field(client):
    response = client.post("/my/login/", {"contact_kind": "", "contact": ""})

    summary = _summary(response.content.decode())
    assert ('tabindex="-1"' in summary, "autofocus" in summary) == (True, True)
    assert re.findall(r'href="(#[\w-]+)"', summary) == ["#id_contact_kind_0", "#id_contact"]


def test_error_summary_is_absent_from_a_fresh_form(client):
    response = client.get("/my/login/")

    assert 'id="error-summary"' not in response.content.decode()
