"""No request can produce a 500: NUL bytes and invalid UTF-8 in addresses, deep and large JSON.

The NUL cases were server errors on PostgreSQL only (its text cannot hold NUL: DataError) on six
routes (register, receipt-short, draw-detail, draw-kit, draw-file, api-draw); CI runs this module
on PostgreSQL too."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.parsers import MAX_DEPTH, depth

pytestmark = pytest.mark.django_db


def _routes(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and "<" in route and not route.startswith("^"):
            yield route


def _filled(route: str, value: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: "1" if m[1] == "int" else value, route)


ROUTES_WITH_TEXT = [route for route in _routes() if re.search(r"<(str:)?\w+>", route)]


def test_bad_input_nul_byte_in_a_path_segment_is_400_on_every_route():
    client = Client(raise_request_exception=False)
    urls = [_filled(route, "ISERE-a%00b") for route in ROUTES_WITH_TEXT]

    statuses = {url: {client.get(url).status_code, client.post(url).status_code} for url in urls}

    assert len(urls) >= 6
    assert statuses == {url: {400} for url in urls}


def test_bad_input_nul_byte_in_the_query_string_is_400_on_every_route():
    client = Client(raise_request_exception=False)
    urls = [_filled(route, "ISERE-1") for route in _routes()] + ["/", "/draws/", "/my/login/"]

    statuses = {
        url: {client.get(f"{url}?token=a%00b").status_code, client.get(f"{url}?a%00=b").status_code}
        for url in urls
    }

    assert statuses == {url: {400} for url in urls}


def test_bad_input_nul_byte_under_api_answers_the_envelope():
    response = Client().get("/api/v1/draws/ISERE%00/")

    assert (response.status_code, response.json()["code"]) == (400, "bad_request")


def test_bad_input_invalid_utf8_in_the_query_is_400_and_in_the_path_404():
    client = Client(raise_request_exception=False)

    in_query = client.get("/draws/?code=%ff%fe").status_code
    in_path = client.get("/draws/%ff%fe/").status_code

    assert (in_query, in_path) == (400, 404)


def test_bad_input_plain_query_strings_still_pass():
    response = Client().get("/draws/?page=2&q=%C3%A9t%C3%A9+2026")

    assert response.status_code == 200


def _post_json(body: bytes):
    client = Client(raise_request_exception=False)
    return client.post("/api/v1/registrations/verify/", body, content_type="application/json")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 990, 5_000, 50_000])
def test_bad_input_json_nested_too_deep_is_a_parse_error(levels):
    response = _post_json(b'{"token":' * levels + b"1" + b"}" * levels)

    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_bad_input_json_within_the_depth_limit_reaches_validation():
    body = {"token": "t" * 20, "code": "123456", "extra": json.loads("[" * 14 + "]" * 14)}

    response = _post_json(json.dumps(body).encode())

    assert response.json()["code"] != "parse_error"


def test_bad_input_body_over_one_megabyte_is_413_before_it_is_read():
    body = json.dumps({"token": "x" * (1024 * 1024)}).encode()

    api = _post_json(body)
    page = Client().post("/my/login/", {"contact": "x" * (1024 * 1024)})

    assert (api.status_code, api.json()["code"]) == (413, "too_large")
    assert page.status_code == 413


@pytest.mark.parametrize(
    "value,expected",
    [(1, 0), ("[]", 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[], [[[]]]], 4)],
)
def test_bad_input_json_depth_counts_nested_containers(value, expected):
    assert depth(value) == expected


def test_api_docs_load_redoc_from_our_own_static_files():
    response = Client().get("/api/docs/")

    html = response.content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert response.status_code == 200
    assert scripts == ["/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"]
    assert finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
    assert re.findall(r"(?:src|href)=\"(https?:[^\"]*)", html) == []
    assert "<script>" not in html  # no inline script: the strict CSP would block it


def test_api_docs_page_alone_lets_redoc_start_its_search_worker():
    client = Client()

    docs = client.get("/api/docs/")["Content-Security-Policy"]
    home = client.get("/")["Content-Security-Policy"]

    assert "worker-src 'self' blob:" in docs
    assert "worker-src" not in home
    assert "script-src 'self'" in docs
