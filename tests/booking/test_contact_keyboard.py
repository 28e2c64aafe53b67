"""The contact and code fields bring up the right keyboard on a phone, and read left to right."""

from booking.forms import CodeForm, ContactLoginForm


def _contact_attrs(data=None) -> dict:
    attrs = ContactLoginForm(data)["contact"].field.widget.attrs
    return {name: attrs.get(name) for name in ("dir", "inputmode", "autocomplete")}


def test_contact_keyboard_before_the_kind_is_known_is_the_full_one():
    assert _contact_attrs() == {"dir": "ltr", "inputmode": None, "autocomplete": "tel"}


def test_contact_keyboard_for_a_phone_is_the_keypad():
    attrs = _contact_attrs({"contact_kind": "phone", "contact": "06"})

    assert attrs == {"dir": "ltr", "inputmode": "tel", "autocomplete": "tel"}


def test_contact_keyboard_for_an_email_is_the_email_one():
    attrs = _contact_attrs({"contact_kind": "email", "contact": "a@"})

    assert attrs == {"dir": "ltr", "inputmode": "email", "autocomplete": "email"}


def test_code_field_asks_for_the_one_time_code_in_digits():
    attrs = CodeForm()["code"].field.widget.attrs

    assert {k: attrs[k] for k in ("inputmode", "autocomplete", "dir")} == {
        "inputmode": "numeric",
        "autocomplete": "one-time-code",
        "dir": "ltr",
    }


def test_contact_keyboard_of_one_form_leaves_the_next_form_alone():
    _contact_attrs({"contact_kind": "email", "contact": "a@"})

    assert _contact_attrs()["inputmode"] is None
