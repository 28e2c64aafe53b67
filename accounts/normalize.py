"""Normalisers for identity and contact fields, applied before hashing and comparing.

Pure functions: no database, no settings, no clock. Each one returns the canonical form of its
input or raises NormalizationError with a stable `code` (for the API and the tests) and a
translatable `message` (for the applicant). A normaliser is idempotent: feeding its output back
gives the same output, so a stored value can be normalised again without changing its keyed hash.
"""

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType, shortnumberinfo

from accounts.countries import is_country

_EXAMPLE = "06 12 34 56 78"

MESSAGES = {
    "id_number_format": _(
        "The foreign national number (numéro étranger) has exactly 10 digits. It is written on "
        "your residence permit or on your receipt (récépissé)."
    ),
    "passport_format": _(
        "Enter the passport number as it is written in your passport: 5 to 20 letters (A to Z) "
        "and digits."
    ),
    "nationality": _("Choose your nationality from the list."),
    "name_empty": _("Enter a name."),
    "name_too_long": _("This name is too long. Use 200 characters or fewer."),
    "email_invalid": _("Enter a valid e-mail address, for example name@example.com."),
    "phone_invalid": _(
        "This is not a phone number we can use. Enter a mobile phone number, for example "
        "06 12 34 56 78 or +44 7700 900123."
    ),
    "phone_short": _(
        "This is a short service number. Enter your own mobile phone number, for example "
        "06 12 34 56 78."
    ),
    "phone_premium": _(
        "This is a service number (paid, shared-cost or free-call number). Enter your own mobile "
        "phone number, for example 06 12 34 56 78."
    ),
    "phone_landline": _(
        "This is a landline number. We send the code by text message (SMS), so enter a mobile "
        "phone number, for example 06 12 34 56 78."
    ),
    "phone_not_mobile": _(
        "This number cannot receive text messages (SMS). Enter a mobile phone number, for "
        "example 06 12 34 56 78."
    ),
}


class NormalizationError(ValueError):
    """A value that cannot be normalised. `code` is stable; `message` is for the applicant."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
        self.message = MESSAGES[code]


# Inputs longer than these are refused before any Unicode work (NFKC can expand a string
# eighteen-fold, so the limits are checked on the raw text).
NAME_MAX_LENGTH = 200
PHONE_MAX_INPUT = 40
EMAIL_MAX_LENGTH = 254
_ID_MAX_INPUT = 64

_MINUS = "\u2212"


def _ascii_digits(text: str) -> str:
    """Map every Unicode decimal digit (Arabic-Indic, Persian, Devanagari, fullwidth) to ASCII."""
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text
    )


def _is_separator(ch: str) -> bool:
    """What people type between the digits of a number: spaces of any kind, dashes (Pd and the
    minus sign), dots; and format characters (Cf: zero-width spaces and joiners, BOM, direction
    marks pasted from right-to-left text), which nobody sees."""
    category = unicodedata.category(ch)
    return ch.isspace() or category in {"Zs", "Cf", "Pd"} or ch in {".", _MINUS}


def normalize_foreign_number(raw: str) -> str:
    """Return the 10 ASCII digits of a French foreign-national number (AGDREF)."""
    if len(raw) > _ID_MAX_INPUT:
        raise NormalizationError("id_number_format")
    text = unicodedata.normalize("NFKC", raw)
    digits = _ascii_digits("".join(ch for ch in text if not _is_separator(ch)))
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise NormalizationError("id_number_format")
    return digits


def normalize_passport(raw: str) -> str:
    """Return a passport number as the key it is compared on: uppercase ASCII letters and digits
    (5 to 20 of them), without separators and without leading zeros.

    "p-007 00145", "0P00700145" and "P00700145" are one key: applicants add or drop a leading
    zero and type the number with or without the spaces, dashes, dots or slashes of the
    document, and each variant must not make a second entry. Zeros inside the number stay.
    """
    if len(raw) > _ID_MAX_INPUT:
        raise NormalizationError("passport_format")
    text = unicodedata.normalize("NFKC", raw).upper()
    text = _ascii_digits("".join(ch for ch in text if not _is_passport_separator(ch)))
    # Lengths are checked once the zeros are gone, so that every key is also a valid input.
    text = text.lstrip("0")
    if not re.fullmatch(r"[A-Z0-9]{5,20}", text):
        raise NormalizationError("passport_format")
    return text


def _is_passport_separator(ch: str) -> bool:
    return _is_separator(ch) or ch in {"/", "\\"}


# Apostrophe look-alikes that keyboards substitute for each other (N'Diaye, N’Diaye, Nʼdiaye).
_APOSTROPHES = dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u02bb\u0060\u00b4\u2032"), "'")


def normalize_name(raw: str) -> str:
    """Return a name folded for matching: NFKC, no format characters, casefolded, without
    diacritics (and without Arabic harakat or Hebrew niqqud: all combining marks go), one space
    between words, one kind of apostrophe and hyphen. For comparison keys only: show the
    applicant the name as they typed it.
    """
    if len(raw) > NAME_MAX_LENGTH:
        raise NormalizationError("name_too_long")
    # Apostrophes before NFKC, which turns the acute accent (N´Diaye) into a space and a
    # combining mark, and again after it, which makes U+02BC out of U+0149 and primes out of ″.
    text = unicodedata.normalize("NFKC", raw.translate(_APOSTROPHES)).casefold()
    text = unicodedata.normalize("NFD", "".join(_fold_name_char(ch) for ch in text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not text:
        raise NormalizationError("name_empty")
    return text


def _fold_name_char(ch: str) -> str:
    if ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category[0] == "C":  # controls, format (ZWJ, ZWNJ, BOM, bidi marks), unassigned
        return ""
    if category == "Pd":
        return "-"
    return _APOSTROPHES.get(ord(ch), ch)


def normalize_nationality(raw: str) -> str:
    """Return a nationality code offered by accounts.countries.country_choices (ISO 3166-1
    alpha-2, XK for Kosovo, XX for stateless), uppercase as stored. ASCII only: the ligature
    U+FB01 would otherwise uppercase to "FI"."""
    text = raw.strip()
    if not (text.isascii() and is_country(text.upper())):
        raise NormalizationError("nationality")
    return text.upper()


_email_validator = EmailValidator(allowlist=[])  # no "user@localhost" from the public


def normalize_email(raw: str) -> str:
    """Return an e-mail address lowercased whole, with its domain in ASCII (IDNA) form.

    Lowercasing the local part is not what RFC 5321 says, but no real mailbox provider
    distinguishes case, and we deduplicate on this value. The domain goes to its IDNA form
    because the IDNA mapping silently drops zero-width and soft-hyphen characters: without it,
    "a@exa\u200dmple.com" would be a second key for the same mailbox.
    """
    if len(raw) > 4 * EMAIL_MAX_LENGTH:
        raise NormalizationError("email_invalid")
    text = unicodedata.normalize("NFKC", raw.strip()).strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not domain or domain.startswith("["):  # no address literals from the public
        raise NormalizationError("email_invalid")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise NormalizationError("email_invalid") from None
    address = f"{local}@{domain}"
    if len(address) > EMAIL_MAX_LENGTH:
        raise NormalizationError("email_invalid")
    try:
        _email_validator(address)
    except ValidationError:
        raise NormalizationError("email_invalid") from None
    return address


# --- Phones -----------------------------------------------------------------------------------

_SMS_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_SERVICE_TYPES = {
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.UAN,
}
# Metropolitan France and the overseas territories share one 10-digit national plan: from
# anywhere in it, 06 92 12 34 56 reaches a Réunion mobile (+262 692 12 34 56). phonenumbers
# parses national numbers against a single region, so "0692..." read as FR is invalid. We retry
# the other regions of the plan. Saint-Pierre-et-Miquelon keeps 6-digit numbers of its own, but
# its newer mobiles (07 08 4x and 07 08 5x, +508 708...) are in the plan: only readings with 9
# digits after the 0 count, so a metropolitan number missing three digits is never taken for a
# 6-digit Saint-Pierre one.
_FRENCH_PLAN = ("FR", "RE", "YT", "GP", "BL", "MF", "GF", "MQ", "PM")
_FRENCH_PLAN_DIGITS = 9
# The territory each overseas mobile prefix was allocated to. phonenumbers also reads some
# 06 94 and 06 96 blocks (Antilles-Guyane operators) as Guadeloupe mobiles (+590) besides
# Guyane (+594) and Martinique (+596): two readings of one line, so "0694 12 40 07" was refused
# as ambiguous, and "+590 694..." and "+594 694..." were two keys for one phone. We keep the
# reading under the calling code of the prefix's territory.
_MOBILE_PREFIX_HOME = {
    "639": "YT",
    "690": "GP",
    "691": "GP",
    "692": "RE",
    "693": "RE",
    "694": "GF",
    "696": "MQ",
    "697": "MQ",
}
_HOME_CODES = frozenset(map(phonenumbers.country_code_for_region, _MOBILE_PREFIX_HOME.values()))
# Digits, the separators people type, and one leading "+" (possibly after an opening bracket,
# as in "(+33) 6 12 34 56 78"). Letters are refused here because phonenumbers would read them as
# a vanity number ("06 12 ABC" becomes 06 12 222) and "ext"/"x" as an extension.
_PHONE_SHAPE = re.compile(r"[( ]*\+?[0-9().\-/ ]*")
# NANP 555-0100 to 555-0199 are reserved for fiction; phonenumbers calls them valid.
_NANP_FICTION = re.compile(r"\+1[0-9]{3}55501[0-9]{2}")


def normalize_phone(raw: str, default_region: str = "FR") -> str:
    """Return a mobile phone number in E.164 form ("+33612345678").

    Accepts national numbers of `default_region` (and, for the French plan, of the overseas
    territories, each under its territory's calling code), "+" and "00" international forms,
    common separators and Unicode digits.
    Refuses what cannot receive an SMS from us or costs money to reach: see the error codes.
    """
    if len(raw) > PHONE_MAX_INPUT:
        raise NormalizationError("phone_invalid")
    text = _clean_phone_text(raw)
    if not _PHONE_SHAPE.fullmatch(text) or not re.search("[0-9]", text):
        raise NormalizationError("phone_invalid")
    try:
        number = phonenumbers.parse(text, default_region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        raise NormalizationError("phone_invalid") from None
    number = _valid_or_refuse(number, text, default_region)
    _refuse_unless_sms(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_phone_text(raw: str) -> str:
    text = _ascii_digits(unicodedata.normalize("NFKC", raw))
    text = "".join(
        " " if ch.isspace() else "-" if ch == _MINUS or unicodedata.category(ch) == "Pd" else ch
        for ch in text
        if unicodedata.category(ch) != "Cf"
    )
    return text.strip()


def _valid_or_refuse(number, text: str, default_region: str):
    if phonenumbers.is_valid_number(number):
        return _at_home(number)
    national = number.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY
    if national and shortnumberinfo.is_valid_short_number_for_region(number, default_region):
        raise NormalizationError("phone_short")
    if national and default_region in _FRENCH_PLAN:
        found = _parse_in_french_plan(text)
        if found is not None:
            return found
    raise NormalizationError("phone_invalid")


def _parse_in_french_plan(text: str):
    """The one valid reading of a national number across the French plan, or None."""
    readings = {}
    for region in _FRENCH_PLAN:
        try:
            candidate = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        digits = len(str(candidate.national_number))
        if digits == _FRENCH_PLAN_DIGITS and phonenumbers.is_valid_number(candidate):
            candidate = _at_home(candidate)
            e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
            readings[e164] = candidate
    return next(iter(readings.values())) if len(readings) == 1 else None


def _at_home(number):
    """`number` under the calling code of its overseas mobile prefix's territory when that reading
    is valid too (see _MOBILE_PREFIX_HOME); otherwise `number` itself."""
    home = _MOBILE_PREFIX_HOME.get(str(number.national_number)[:3])
    if home is None or number.country_code not in _HOME_CODES:
        return number
    moved = phonenumbers.PhoneNumber(
        country_code=phonenumbers.country_code_for_region(home),
        national_number=number.national_number,
    )
    return moved if phonenumbers.is_valid_number(moved) else number


def _refuse_unless_sms(number) -> None:
    if number.extension:
        raise NormalizationError("phone_invalid")
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        raise NormalizationError("phone_landline")
    if kind in _SERVICE_TYPES:
        raise NormalizationError("phone_premium")
    if kind not in _SMS_TYPES:
        raise NormalizationError("phone_not_mobile")
    # Non-geographic codes (+870 Inmarsat, +881/+882 satellite and international networks) are
    # typed MOBILE, but an SMS there costs several euros and is a favourite of SMS pumping.
    if phonenumbers.region_code_for_number(number) == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        raise NormalizationError("phone_not_mobile")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if _NANP_FICTION.fullmatch(e164):
        raise NormalizationError("phone_invalid")


def normalize_contact(kind: str, raw: str) -> str:
    """A phone (E.164) or an e-mail address, by `kind` ("phone" or "email")."""
    if kind == "phone":
        return normalize_phone(raw)
    if kind == "email":
        return normalize_email(raw)
    raise ValueError(f"unknown contact kind {kind!r}")
