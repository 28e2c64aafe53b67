"""What an applicant types, shared by the registration tests: the web form's fields, the API's
body, and a solved proof of work."""

from accounts import pow


def form_answers(window, **changes) -> dict:
    """The registration form's fields for one applicant, with `changes`."""
    return {
        "procedure": window.procedures.first().code,
        "identity_kind": "agdref",
        "identifier": "7512345678",
        "family_name": "Haidari",
        "given_names": "Amina",
        "birth_date": "1991-03-04",
        "nationality": "AF",
        "contact_kind": "phone",
        "contact": "0612345678",
        **changes,
    }


def api_answers(window, **changes) -> dict:
    """The API's start body (without a proof) for one applicant, with `changes`."""
    return {"window": window.code, **form_answers(window), **changes}


def solved_proof() -> str:
    """A solved proof of work, as the ALTCHA widget sends it (each is good for one request).
    An easy puzzle: how hard it is made is pow's business (tests/accounts/test_pow.py)."""
    challenge = pow.create_challenge(max_number=1000)
    return pow.encode_solution(challenge, pow.solve(challenge))
