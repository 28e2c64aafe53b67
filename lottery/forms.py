"""Staff forms of a draw: they check the shape of what was typed or pasted; the services decide
(roles, deadlines, commitments, the beacon's signature)."""

import json
import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from lottery.models import PARTY_ID_RE, RequestKind

HEX64 = RegexValidator(r"^[0-9a-fA-F]{64}$", _("Enter 64 hexadecimal characters."))
PARTY_ID = re.compile(PARTY_ID_RE)
HEX96 = re.compile(r"^[0-9a-fA-F]{96}$")
ENTRY_REFERENCE = re.compile(r"^E-[0-9A-F]{8}$")  # Entry.pseudonym


class PartyForm(DsfrBaseForm):
    party_id = forms.CharField(
        label=_("Party id"),
        max_length=32,
        help_text=_("Capital letters, digits or _, for example LIGUE_DROITS."),
    )
    commitment = forms.CharField(
        label=_("Commitment"),
        max_length=64,
        validators=[HEX64],
        help_text=_("SHA-256 commitment of your secret, 64 hexadecimal characters."),
    )

    def clean_party_id(self):
        party_id = self.cleaned_data["party_id"].strip().upper()
        if not PARTY_ID.fullmatch(party_id):
            raise forms.ValidationError(_("Use 1 to 32 capital letters, digits or _."))
        return party_id


class RevealForm(DsfrBaseForm):
    party_id = forms.ChoiceField(label=_("Party"))
    secret = forms.CharField(
        label=_("Secret"),
        max_length=64,
        validators=[HEX64],
        help_text=_("The 32-byte secret you committed to, as 64 hexadecimal characters."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, parties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party_id"].choices = [(p, p) for p in parties]


class BeaconForm(DsfrBaseForm):
    beacon = forms.CharField(
        label=_("Beacon round (JSON)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_(
            'The round as a drand relay serves it: {"round": …, "signature": …, '
            '"randomness": …}. It is verified before it is recorded.'
        ),
    )

    def clean_beacon(self) -> dict:
        try:
            value = json.loads(self.cleaned_data["beacon"])
        except ValueError:
            raise forms.ValidationError(_("This is not valid JSON.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Paste one JSON object."))
        round_number, signature = value.get("round"), value.get("signature")
        randomness = value.get("randomness")
        if not isinstance(round_number, int) or isinstance(round_number, bool) or round_number < 1:
            raise forms.ValidationError(_("The round must be a positive whole number."))
        if not isinstance(signature, str) or not HEX96.fullmatch(signature):
            raise forms.ValidationError(_("The signature must be 96 hexadecimal characters."))
        if randomness is not None and (
            not isinstance(randomness, str) or not HEX64.regex.fullmatch(randomness)
        ):
            raise forms.ValidationError(_("The randomness must be 64 hexadecimal characters."))
        return {"round": round_number, "signature": signature, "randomness": randomness}


class ReviewForm(DsfrBaseForm):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", _("Approve: the draw may be published")),
            ("hold", _("Keep it held")),
        ],
    )
    note = forms.CharField(
        label=_("Review note"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What you checked and why you decided so. It is kept in the audit log."),
    )


class StaffRequestForm(DsfrBaseForm):
    """Ask for an action that a second supervisor must approve. `target` names what it acts on:
    an entry's reference (E-…) for urgency, an appointment's number for a cancellation;
    nothing for closing the window early."""

    kind = forms.ChoiceField(label=_("Action"), choices=RequestKind.choices)
    window = forms.ChoiceField(label=_("Window"))
    target = forms.CharField(
        label=_("Entry reference or appointment number"),
        max_length=40,
        required=False,
        help_text=_("For urgency: the entry's reference, E-1234ABCD. For a cancellation: the "
                    "appointment's number. Leave empty to close the window early."),
    )  # fmt: skip
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea)

    def __init__(self, *args, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["window"].choices = [(w.code, f"{w.title} ({w.code})") for w in windows]

    def clean(self):
        data = super().clean()
        target = (data.get("target") or "").strip().upper()
        kind = data.get("kind")
        if kind == RequestKind.URGENCY and not ENTRY_REFERENCE.fullmatch(target):
            self.add_error("target", _("Type the entry's reference, for example E-1234ABCD."))
        if kind == RequestKind.CANCELLATION and not target.isdigit():
            self.add_error("target", _("Type the appointment's number, digits only."))
        data["target"] = target
        return data


class DecisionForm(DsfrBaseForm):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class DrawFilterForm(DsfrBaseForm):
    """The public list's filter (a GET form: a filtered list has its own address). Choices are
    the prefectures and years that have draws, so every choice finds something."""

    prefecture = forms.ChoiceField(label=_("Prefecture"), required=False)
    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, prefectures=(), years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prefecture"].choices = [("", _("All prefectures")), *prefectures]
        self.fields["year"].choices = [("", _("All years")), *((y, str(y)) for y in years)]
