"""The API's error envelope, as a partner tool sees it: every 4xx answer under /api/v1/ is
`{"code", "message"}`, plus `"fields"` when the error concerns input fields, in the request's
language."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import translation
from rest_framework import exceptions
from rest_framework.test import APIClient

from accounts.models import User
from booking.registration import FieldError
from config.errors import api_exception_handler
from tests.answers import api_answers
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

# Every input field of the API, for a body of junk in each.
FIELDS = [
    "window", "procedure", "identity_kind", "identifier", "family_name", "given_names",
    "birth_date", "nationality", "permit_expires_on", "sites", "excluded_weekdays",
    "contact_kind", "contact", "proof", "token", "code", "party_id", "commitment", "secret",
    "round", "signature", "randomness", "approve", "note",
]  # fmt: skip
JUNK = {"a": [[{"b": None}], 1e308, -1, True, "\x00"], "": {}}

MALFORMED_BODIES = {
    "list": b"[1, 2, 3]",
    "string": b'"just a string"',
    "number": b"42",
    "null": b"null",
    "not json": b"{not json",
    "truncated": b'{"token": "abc',
    "nested too deep": b"[" * 10_000 + b"]" * 10_000,
    "junk in every field": json.dumps(dict.fromkeys(FIELDS, JUNK)).encode(),
    "lone surrogates": b'{"token": "\\ud800", "code": "\\udfff"}',
    "not utf-8": b'{"token": "\xff\xfe"}',
}
PARAMETERS = {"code": "TEST-0000", "pk": "1", "action": "accept"}
METHODS = ["get", "post", "put", "patch", "delete"]


def _endpoints(patterns=None, prefix=""):
    """(path, view class) of every URL of the API, path parameters filled in."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _endpoints(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PARAMETERS.get(m[1], "x"), route)
            yield "/" + path, entry.callback.view_class


ENDPOINTS = sorted(_endpoints(), key=lambda endpoint: endpoint[0])


@pytest.fixture
def as_anonymous():
    return APIClient()


@pytest.fixture
def as_applicant():
    client = APIClient()
    session = client.session
    session["applicant_contact"] = ContactFactory(user=User.objects.create_user("applicant")).pk
    session.save()
    return client


@pytest.fixture
def as_supervisor(supervisor, login_otp):
    return login_otp(supervisor)


def _assert_envelope(response):
    body = response.json()
    assert 400 <= response.status_code < 500, (response.status_code, body)
    assert response["Content-Type"] == "application/json"
    assert set(body) <= {"code", "message", "fields"}, body
    assert isinstance(body["code"], str) and body["code"], body
    assert isinstance(body["message"], str) and body["message"], body
    if "fields" in body:
        assert body["fields"], body
        for name, messages in body["fields"].items():
            assert isinstance(name, str) and name, body
            assert messages and all(isinstance(m, str) and m for m in messages), body


def test_api_endpoints_are_all_walked():
    paths = {path for path, _view in ENDPOINTS}

    assert paths == {
        "/api/v1/registrations/",
        "/api/v1/registrations/status/",
        "/api/v1/registrations/verify/",
        "/api/v1/registrations/submit/",
        "/api/v1/draws/",
        "/api/v1/draws/TEST-0000/",
        "/api/v1/draws/TEST-0000/parties/",
        "/api/v1/draws/TEST-0000/reveals/",
        "/api/v1/draws/TEST-0000/beacon/",
        "/api/v1/draws/TEST-0000/review/",
        "/api/v1/appointments/1/accept/",
    }


@pytest.mark.parametrize("persona", ["as_anonymous", "as_applicant", "as_supervisor"])
@pytest.mark.parametrize("path,view", ENDPOINTS, ids=[path for path, _view in ENDPOINTS])
def test_api_malformed_body_answers_the_envelope_on_every_endpoint(request, persona, path, view):
    client = request.getfixturevalue(persona)
    # A read-only endpoint gets the body by POST, which it refuses (405).
    methods = [method for method in ("post", "put", "patch") if hasattr(view, method)] or ["post"]

    responses = [
        getattr(client, method)(path, body, content_type="application/json")
        for method in methods
        for body in MALFORMED_BODIES.values()
    ]
    responses.append(client.post(path, "token=x", content_type="text/plain"))

    for response in responses:
        _assert_envelope(response)


@pytest.mark.parametrize("persona", ["as_anonymous", "as_applicant", "as_supervisor"])
@pytest.mark.parametrize("path,view", ENDPOINTS, ids=[path for path, _view in ENDPOINTS])
def test_api_wrong_method_answers_the_envelope_on_every_endpoint(request, persona, path, view):
    client = request.getfixturevalue(persona)
    wrong = [method for method in METHODS if not hasattr(view, method)]

    responses = [getattr(client, method)(path) for method in wrong]

    assert wrong
    for response in responses:
        _assert_envelope(response)


def test_api_malformed_code_is_a_field_error_not_a_bare_list(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/verify/",
        {"token": "t" * 20, "code": "12ab"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": {"code": ["This value does not match the required pattern."]},
    }


def test_api_validation_error_is_in_the_requests_language(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/verify/",
        {"token": "t" * 20, "code": "12ab"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "La demande n'est pas valide.",
        "fields": {"code": ["Cette valeur ne satisfait pas le motif imposé."]},
    }


@pytest.mark.parametrize(
    "language,message",
    [("en", 'Method "GET" not allowed.'), ("fr", "Méthode «\xa0GET\xa0» non autorisée.")],
)
def test_api_wrong_method_is_in_the_requests_language(as_anonymous, language, message):
    response = as_anonymous.get("/api/v1/registrations/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "message": message}


def test_api_body_that_is_not_an_object_is_invalid(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/status/", [1, 2], format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "Invalid data. Expected a dictionary, but got list.",
    }


def test_api_nested_junk_names_each_field_at_fault(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/",
        {"window": {"a": 1}, "sites": ["S1", ["S2"]], "status": "selected"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    body = response.json()
    assert response.status_code == 400
    assert (body["code"], body["message"]) == ("invalid", "The request is not valid.")
    assert body["fields"]["window"] == ["Not a valid string."]
    assert body["fields"]["sites.1"] == ["Not a valid string."]
    assert body["fields"]["identifier"] == ["This field is required."]


def test_api_body_nested_too_deep_is_a_parse_error(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/status/",
        b"[" * 10_000 + b"]" * 10_000,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": "This is not valid JSON."}


def test_api_unknown_address_is_not_found_in_the_envelope(as_anonymous):
    response = as_anonymous.post("/api/v1/appointments/x/accept/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_unknown_page_outside_the_api_is_still_a_page(as_anonymous):
    response = as_anonymous.get("/no-such-page/")

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")


def test_api_body_over_the_size_limit_is_too_large(as_anonymous, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = as_anonymous.post(
        "/api/v1/registrations/status/",
        {"token": "t" * 2000},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "The request is too large."}


def test_api_domain_error_keeps_its_code(as_anonymous):
    response = as_anonymous.post(
        "/api/v1/registrations/status/",
        {"token": "t" * 40},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 404
    assert response.json() == {
        "code": "registration_not_found",
        "message": "This registration has expired. Please start again.",
    }


def test_api_domain_error_on_a_field_names_the_field(as_anonymous, window):
    # Not a mobile number; without a proof of work either.
    payload = api_answers(window, contact="0899123456")

    response = as_anonymous.post(
        "/api/v1/registrations/", payload, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    body = response.json()
    (field,) = body["fields"]  # whichever the service refuses first
    assert response.status_code == 400
    assert body == {
        "code": body["code"],
        "message": body["message"],
        "fields": {field: [body["message"]]},
    }
    assert body["code"] != "invalid" and field in payload | {"proof": None}


def test_api_field_error_is_put_beside_its_field():
    error = FieldError("contact", "phone_not_mobile", "Give a mobile number.")

    response = api_exception_handler(error, {})

    assert (response.status_code, response.data) == (
        400,
        {
            "code": "phone_not_mobile",
            "message": "Give a mobile number.",
            "fields": {"contact": ["Give a mobile number."]},
        },
    )


class Unavailable(exceptions.APIException):
    status_code = 503
    default_detail = "Come back later."
    default_code = "unavailable"


@pytest.mark.parametrize(
    "error,expected",
    [
        (exceptions.NotFound, (404, {"code": "not_found", "message": "Not found."})),
        (
            lambda: exceptions.MethodNotAllowed("PUT"),
            (405, {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'}),
        ),
        (
            lambda: exceptions.UnsupportedMediaType("text/plain"),
            (
                415,
                {
                    "code": "unsupported_media_type",
                    "message": 'Unsupported media type "text/plain" in request.',
                },
            ),
        ),
        (
            lambda: exceptions.Throttled(wait=30),
            (
                429,
                {
                    "code": "throttled",
                    "message": "Request was throttled. Expected available in 30 seconds.",
                },
            ),
        ),
        (Unavailable, (503, {"code": "unavailable", "message": "Come back later."})),
    ],
    ids=["404", "405", "415", "429", "503"],
)
def test_api_drf_exception_gets_its_code_in_the_envelope(error, expected):
    with translation.override("en"):  # DRF translates a message when the exception is made
        response = api_exception_handler(error(), {})

    assert (response.status_code, response.data) == expected
