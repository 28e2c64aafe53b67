"""Forms translate the web page's fields into service inputs; they decide nothing."""

from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from accounts.countries import country_choices
from accounts.models import ContactKind, IdentityKind
from booking.helpers import CONSENT_STATEMENT
from booking.registration import RegistrationInput

WEEKDAYS = [
    ("1", _("Monday")),
    ("2", _("Tuesday")),
    ("3", _("Wednesday")),
    ("4", _("Thursday")),
    ("5", _("Friday")),
    ("6", _("Saturday")),
    ("7", _("Sunday")),
]


CONTACT_HELP = _(
    "A phone number with its country code, for example +33 6 12 34 56 78, "
    "or an e-mail address, for example name@example.org."
)


def set_contact_keyboard(form: forms.Form) -> None:
    """Left to right always; a phone keypad or an e-mail keyboard once the kind is known.

    Until the form comes back with a kind (an error to correct), the full keyboard: a phone
    pad would stop whoever chooses e-mail from typing "@" on a page without JavaScript."""
    attrs = {"dir": "ltr", "autocomplete": "tel", "spellcheck": "false"}
    kind = form.data.get("contact_kind") if form.is_bound else None
    if kind == ContactKind.PHONE:
        attrs["inputmode"] = "tel"
    elif kind == ContactKind.EMAIL:
        attrs.update(inputmode="email", autocomplete="email")
    form.fields["contact"].widget.attrs.update(attrs)


class RegistrationForm(DsfrBaseForm):
    procedure = forms.ChoiceField(label=_("What is the appointment for?"), widget=forms.RadioSelect)
    identity_kind = forms.ChoiceField(
        label=_("Your identity document"),
        widget=forms.RadioSelect,
        choices=IdentityKind.choices,
        initial=IdentityKind.FOREIGN_NUMBER,
        help_text=_(
            "Foreign-national number (10 digits, on your residence permit or receipt). "
            "For a first request without one, your passport number."
        ),
    )
    identifier = forms.CharField(
        label=_("Foreign-national number or passport number"), max_length=40
    )
    family_name = forms.CharField(label=_("Family name"), max_length=200)
    given_names = forms.CharField(label=_("Given names"), max_length=200)
    birth_date = forms.DateField(
        label=_("Birth date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    nationality = forms.ChoiceField(label=_("Nationality"))
    permit_expires_on = forms.DateField(
        label=_("Expiry date of your current permit (renewals)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("If it has expired or expires soon, you are placed in the urgent tier."),
    )
    sites = forms.MultipleChoiceField(
        label=_("Sites you can go to (none ticked: any site)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    excluded_weekdays = forms.MultipleChoiceField(
        label=_("Days you can NOT come"),
        required=False,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
    )
    contact_kind = forms.ChoiceField(
        label=_("How do we reach you?"),
        widget=forms.RadioSelect,
        choices=ContactKind.choices,
        initial=ContactKind.PHONE,
    )
    contact = forms.CharField(
        label=_("Mobile phone number or e-mail address"),
        max_length=254,
        help_text=CONTACT_HELP,
    )
    altcha = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, window, **kwargs):
        super().__init__(*args, **kwargs)
        set_contact_keyboard(self)
        self.fields["procedure"].choices = [(p.code, p.name) for p in window.procedures.all()]
        self.fields["sites"].choices = [(s.code, s.name) for s in window.prefecture.sites.all()]
        self.fields["nationality"].choices = [("", "—"), *country_choices(get_language() or "fr")]

    def to_input(self) -> RegistrationInput:
        return RegistrationInput.from_answers(self.cleaned_data)


class CodeForm(DsfrBaseForm):
    code = forms.CharField(
        label=_("The 6-digit code we sent you"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "dir": "ltr"}
        ),
    )


class ContactLoginForm(DsfrBaseForm):
    contact_kind = forms.ChoiceField(
        label=_("Phone or e-mail"),
        widget=forms.RadioSelect,
        choices=ContactKind.choices,
        initial=ContactKind.PHONE,
    )
    contact = forms.CharField(
        label=_("Mobile phone number or e-mail address"), max_length=254, help_text=CONTACT_HELP
    )
    altcha = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        set_contact_keyboard(self)


class ReceiptCheckForm(DsfrBaseForm):
    receipt = forms.CharField(label=_("Receipt code"), max_length=600, widget=forms.Textarea)


class StaffRegistrationForm(RegistrationForm):
    """The web form, filled in by an agent at the counter (or a helper) for the person in front
    of them: no proof of work, and the contact is optional."""

    contact_kind = forms.ChoiceField(
        label=_("How do we reach the person?"),
        widget=forms.RadioSelect,
        choices=ContactKind.choices,
        initial=ContactKind.PHONE,
        required=False,
    )
    contact = forms.CharField(
        label=_("Their mobile phone number or e-mail address"),
        max_length=254,
        required=False,
        help_text=_("The receipt is sent to it, and later the result. Leave empty if none."),
    )
    language = forms.ChoiceField(
        label=_("Language of the messages"), choices=settings.LANGUAGES, required=False
    )
    altcha = None

    def __init__(self, *args, window, **kwargs):
        super().__init__(*args, window=window, **kwargs)
        self.fields["language"].initial = get_language()


class HelperRegistrationForm(StaffRegistrationForm):
    consent = forms.BooleanField(label=CONSENT_STATEMENT, required=True)


class OrganisationForm(DsfrBaseForm):
    name = forms.CharField(
        label=_("Name of your organisation"),
        max_length=120,
        help_text=_("As the prefecture knows it. A supervisor of the prefecture approves it."),
    )
