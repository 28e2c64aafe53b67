"""Normalisers (accounts/normalize.py) and the country list (accounts/countries.py).

Pure functions: no database. Every expectation in the phone corpus was produced by running the code
and then reviewed against phonenumbers' metadata; where phonenumbers' own reading is surprising, a
test pins it (see test_phonenumbers_alone_reads_overseas_national_numbers_as_metropolitan).
"""

import unicodedata

import phonenumbers
import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.countries import COUNTRIES, STATELESS, country_choices, is_country, sort_key
from accounts.normalize import (
    MESSAGES,
    NormalizationError,
    normalize_email,
    normalize_foreign_number,
    normalize_name,
    normalize_nationality,
    normalize_passport,
    normalize_phone,
)


def outcome(normalise, raw, *args):
    """The normalised value, or the error code: one comparable result for tables."""
    try:
        return normalise(raw, *args)
    except NormalizationError as error:
        return error.code


# --- Phones ------------------------------------------------------------------------------------

# (input, E.164 or error code), default region FR.
PHONES = [
    # French mobiles, national form, with the separators people type
    ("0612345678", "+33612345678"),
    ("06 12 34 56 78", "+33612345678"),
    ("06.12.34.56.78", "+33612345678"),
    ("06-12-34-56-78", "+33612345678"),
    ("06/12/34/56/78", "+33612345678"),
    ("(06) 12 34 56 78", "+33612345678"),
    (" 06 12 34 56 78 ", "+33612345678"),
    ("06 1234 5678", "+33612345678"),
    ("0698765432", "+33698765432"),
    ("0601020304", "+33601020304"),
    ("07 52 34 56 78", "+33752345678"),
    # French mobiles, international and 0033 forms
    ("+33612345678", "+33612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "+33612345678"),
    ("(+33) 6 12 34 56 78", "+33612345678"),
    ("+ 33 6 12 34 56 78", "+33612345678"),
    ("-0612345678", "+33612345678"),
    ("+33-6-12-34-56-78", "+33612345678"),
    ("+33.6.12.34.56.78", "+33612345678"),
    ("0033612345678", "+33612345678"),
    ("0033 6 12 34 56 78", "+33612345678"),
    ("00 33 6 12 34 56 78", "+33612345678"),
    ("33612345678", "+33612345678"),
    ("+33 7 81 23 45 67", "+33781234567"),
    ("0033 7 49 12 34 56", "+33749123456"),
    ("+33 0612345678", "+33612345678"),
    ("+330612345678", "+33612345678"),
    # French mobiles with Unicode digits, spaces, dashes and invisible characters
    ("٠٦١٢٣٤٥٦٧٨", "+33612345678"),
    ("٠٦ ١٢ ٣٤ ٥٦ ٧٨", "+33612345678"),
    ("+٣٣٦١٢٣٤٥٦٧٨", "+33612345678"),
    ("۰۶۱۲۳۴۵۶۷۸", "+33612345678"),
    ("０６１２３４５６７８", "+33612345678"),
    ("＋３３ ６ １２ ３４ ５６ ７８", "+33612345678"),
    ("०६१२३४५६७८", "+33612345678"),
    ("০৬১২৩৪৫৬৭৮", "+33612345678"),
    ("06\xa012\xa034\xa056\xa078", "+33612345678"),
    ("06\u202f12\u202f34\u202f56\u202f78", "+33612345678"),
    ("06\u200912\u200934\u200956\u200978", "+33612345678"),
    ("06\u300012\u300034\u300056\u300078", "+33612345678"),
    ("0612345678\u200b", "+33612345678"),
    ("\u200d06\u200c12 34 56 78\u2060", "+33612345678"),
    ("06\u200b12\u200b34\u200b56\u200b78", "+33612345678"),
    ("\u200f+33 6 12 34 56 78\u200e", "+33612345678"),
    ("\ufeff0612345678", "+33612345678"),
    ("06–12–34–56–78", "+33612345678"),
    ("06−12−34−56−78", "+33612345678"),
    ("(06)-12.34/56 78", "+33612345678"),
    ("\t06 12 34 56 78", "+33612345678"),
    ("06\t12\t34\t56\t78", "+33612345678"),
    # Wrong length or unallocated French ranges (07 0x to 07 2x are not mobile ranges yet)
    ("0712345678", "phone_invalid"),
    ("0701020304", "phone_invalid"),
    ("0700000000", "phone_invalid"),
    ("06 12 34 56 7", "phone_invalid"),
    ("06 12 34 56 789", "phone_invalid"),
    # Overseas departments: international forms
    ("+262 692 12 34 56", "+262692123456"),
    ("00262692123456", "+262692123456"),
    ("+262 639 01 23 45", "+262639012345"),
    ("+590 690 00 12 34", "+590690001234"),
    ("+594 694 20 12 34", "+594694201234"),
    ("+596 696 20 12 34", "+596696201234"),
    # Overseas departments: national forms, read across the French plan (see normalize.py)
    ("0692 12 34 56", "+262692123456"),
    ("0693 11 22 33", "+262693112233"),
    ("0639 01 23 45", "+262639012345"),
    ("0690 00 12 34", "+590690001234"),
    ("0694 20 12 34", "+594694201234"),
    ("0696 20 12 34", "+596696201234"),
    ("0697 12 34 56", "+596697123456"),
    # Overseas: +33 with an overseas number is not a number; landlines; unallocated Mayotte range
    ("+33 692 12 34 56", "phone_invalid"),
    ("0262 16 12 34", "phone_landline"),
    ("+262 262 16 12 34", "phone_landline"),
    ("0590 20 12 34", "phone_landline"),
    ("+590 590 20 12 34", "phone_landline"),
    ("0594 10 12 34", "phone_landline"),
    ("+596 596 30 12 34", "phone_landline"),
    ("0639 12 34 56", "phone_invalid"),
    # Overseas mobiles in the newer 07 09 ranges, one block per territory
    ("0709 01 12 34", "+590709011234"),
    ("0709 11 12 34", "+596709111234"),
    ("0709 21 12 34", "+262709211234"),
    ("0709 31 12 34", "+594709311234"),
    ("0709 36 12 34", "+262709361234"),
    # Saint-Pierre-et-Miquelon (6-digit numbers, and 07 08 mobiles in the 10-digit plan) and Comoros
    ("+508 55 12 34", "+508551234"),
    ("0708 45 12 34", "+508708451234"),
    ("+508 708 45 12 34", "+508708451234"),
    ("055 12 34", "phone_invalid"),  # 7 digits: not taken for a 6-digit Saint-Pierre number
    ("+269 321 23 45", "+2693212345"),
    ("+269 3212345", "+2693212345"),
    ("00269 321 23 45", "+2693212345"),
    ("+269 773 23 45", "phone_landline"),
    ("+269 77 12 345", "phone_landline"),
    # Foreign mobiles
    ("+44 7911 123456", "+447911123456"),
    ("+44 7400 123456", "+447400123456"),
    ("0044 7400 123456", "+447400123456"),
    ("+93 70 123 4567", "+93701234567"),
    ("+93 79 123 4567", "+93791234567"),
    ("+234 802 123 4567", "+2348021234567"),
    ("+234 803 123 4567", "+2348031234567"),
    ("+221 70 123 45 67", "+221701234567"),
    ("+221 77 123 45 67", "+221771234567"),
    ("+225 01 23 45 67 89", "+2250123456789"),
    ("+225 07 07 12 34 56", "+2250707123456"),
    ("+213 551 23 45 67", "+213551234567"),
    ("+213 661 23 45 67", "+213661234567"),
    ("+212 650 12 34 56", "+212650123456"),
    ("+212 6 61 23 45 67", "+212661234567"),
    ("+216 20 123 456", "+21620123456"),
    ("+216 98 123 456", "+21698123456"),
    ("+963 944 567 890", "+963944567890"),
    ("+380 50 123 4567", "+380501234567"),
    ("+380 67 123 4567", "+380671234567"),
    ("+995 555 12 34 56", "+995555123456"),
    ("+291 7 123 456", "+2917123456"),
    ("+249 91 123 1234", "+249911231234"),
    ("+211 977 123 456", "+211977123456"),
    ("+1 415 555 2671", "+14155552671"),
    ("+1 (212) 555-2368", "+12125552368"),
    ("+1 506 234 5678", "+15062345678"),
    ("+55 11 96123 4567", "+5511961234567"),
    ("+55 21 99123 4567", "+5521991234567"),
    ("+86 131 2345 6789", "+8613123456789"),
    ("+86 139 1234 5678", "+8613912345678"),
    ("+91 81234 56789", "+918123456789"),
    ("+91 98765 43210", "+919876543210"),
    ("+92 301 2345678", "+923012345678"),
    ("+92 300 1234567", "+923001234567"),
    ("+880 1812 345678", "+8801812345678"),
    ("+880 1712 345678", "+8801712345678"),
    ("+94 71 234 5678", "+94712345678"),
    ("+94 77 123 4567", "+94771234567"),
    ("+243 99 123 4567", "+243991234567"),
    ("+243 81 234 5678", "+243812345678"),
    ("+242 06 123 4567", "+242061234567"),
    ("+237 6 71 23 45 67", "+237671234567"),
    ("+223 65 01 23 45", "+22365012345"),
    ("+224 601 12 34 56", "+224601123456"),
    ("+222 22 12 34 56", "+22222123456"),
    ("+90 501 234 56 78", "+905012345678"),
    ("+7 912 345 67 89", "+79123456789"),
    ("+374 77 123456", "+37477123456"),
    ("+994 40 123 45 67", "+994401234567"),
    ("+98 912 345 6789", "+989123456789"),
    ("+964 791 234 5678", "+9647912345678"),
    ("+252 71 123456", "+25271123456"),
    ("+251 91 123 4567", "+251911234567"),
    ("+509 34 10 1234", "+50934101234"),
    ("+355 67 212 3456", "+355672123456"),
    ("+383 43 201 234", "+38343201234"),
    ("+84 91 234 56 78", "+84912345678"),
    ("+63 905 123 4567", "+639051234567"),
    ("+235 63 01 23 45", "+23563012345"),
    ("+226 70 12 34 56", "+22670123456"),
    ("+227 93 12 34 56", "+22793123456"),
    ("+20 100 123 4567", "+201001234567"),
    ("+218 91 234 5678", "+218912345678"),
    ("+53 5 123 4567", "+5351234567"),
    ("+49 151 23456789", "+4915123456789"),
    ("+39 312 345 6789", "+393123456789"),
    ("+34 612 34 56 78", "+34612345678"),
    ("+32 470 12 34 56", "+32470123456"),
    ("+41 78 123 45 67", "+41781234567"),
    ("+352 621 123 456", "+352621123456"),
    ("+377 6 12 34 56 78", "+377612345678"),
    ("+7 701 234 5678", "+77012345678"),
    ("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹", "+989123456789"),
    ("۰۰۹۸۹۱۲۳۴۵۶۷۸۹", "+989123456789"),
    # Foreign numbers reserved for fiction: valid for phonenumbers, unreachable
    ("+44 7700 900123", "phone_invalid"),
    ("+1 202 555 0123", "phone_invalid"),
    ("+1 416 555 0199", "phone_invalid"),
    # Landlines, French and foreign
    ("0123456789", "phone_landline"),
    ("01 23 45 67 89", "phone_landline"),
    ("0145678901", "phone_landline"),
    ("+33 1 45 67 89 01", "phone_landline"),
    ("0243123456", "phone_landline"),
    ("0312345678", "phone_landline"),
    ("0412345678", "phone_landline"),
    ("0512345678", "phone_landline"),
    ("+33 5 12 34 56 78", "phone_landline"),
    ("+44 20 7946 0958", "phone_landline"),
    ("+44 121 234 5678", "phone_landline"),
    ("+93 23 456 7890", "phone_landline"),
    ("+221 33 821 23 45", "phone_landline"),
    ("+213 21 12 34 56", "phone_landline"),
    ("+212 5 22 12 34 56", "phone_landline"),
    ("+216 71 123 456", "phone_landline"),
    ("+963 11 234 5678", "phone_landline"),
    ("+380 44 123 4567", "phone_landline"),
    ("+995 32 212 34 56", "phone_landline"),
    ("+291 1 123 456", "phone_landline"),
    ("+249 15 312 3456", "phone_landline"),
    ("+55 11 2345 6789", "phone_landline"),
    ("+86 10 1234 5678", "phone_landline"),
    ("+91 11 2345 6789", "phone_landline"),
    ("+92 21 23456789", "phone_landline"),
    ("+7 495 123 45 67", "phone_landline"),
    ("+225 21 23 45 67 89", "phone_landline"),
    ("+234 20 3312 3456", "phone_landline"),
    # Premium rate, shared cost, toll-free
    ("0891 12 34 56", "phone_premium"),
    ("0892 12 34 56", "phone_premium"),
    ("0899 12 34 56", "phone_premium"),
    ("0820 12 34 56", "phone_premium"),
    ("0821 12 34 56", "phone_premium"),
    ("0825 12 34 56", "phone_premium"),
    ("0810 12 34 56", "phone_premium"),
    ("0800 12 34 56", "phone_premium"),
    ("0805 12 34 56", "phone_premium"),
    ("+33 800 12 34 56", "phone_premium"),
    ("+33 892 12 34 56", "phone_premium"),
    ("+44 800 123 4567", "phone_premium"),
    ("+44 909 123 4567", "phone_premium"),
    ("+1 800 234 5678", "phone_premium"),
    ("+1 900 234 5678", "phone_premium"),
    # Internet-box (09) numbers
    ("0912345678", "phone_not_mobile"),
    ("09 51 23 45 67", "phone_not_mobile"),
    ("+33 9 70 12 34 56", "phone_not_mobile"),
    # Short numbers
    ("3949", "phone_short"),
    ("39 49", "phone_short"),
    ("115", "phone_short"),
    ("112", "phone_short"),
    ("15", "phone_short"),
    ("17", "phone_short"),
    ("3646", "phone_short"),
    ("3631", "phone_short"),
    ("3665", "phone_short"),
    ("3020", "phone_short"),
    ("118 218", "phone_short"),
    ("116 000", "phone_short"),
    ("1000", "phone_short"),
    # Non-geographic codes: satellite, international networks, freephone
    ("+870 301 234 567", "phone_not_mobile"),
    ("+881 612 345 678", "phone_not_mobile"),
    ("+882 34 21234", "phone_not_mobile"),
    ("+800 1234 5678", "phone_premium"),
    ("+979 123 456 789", "phone_premium"),
    ("+883 510 012 345", "phone_not_mobile"),
    ("+888 1234 5678 901", "phone_premium"),
    # Junk
    ("", "phone_invalid"),
    ("   ", "phone_invalid"),
    ("+", "phone_invalid"),
    ("++33612345678", "phone_invalid"),
    ("abc", "phone_invalid"),
    ("06 12 34 56 7a", "phone_invalid"),
    ("0612345678abc", "phone_invalid"),
    ("06 12 AB CD EF", "phone_invalid"),
    ("06 12 34 56 78 ext 5", "phone_invalid"),
    ("06 12 34 56 78 x5", "phone_invalid"),
    ("06 12 34 56 78 (mobile)", "phone_invalid"),
    ("06 12 34 56 78 #5", "phone_invalid"),
    ("tel:+33612345678", "phone_invalid"),
    ("+33 6 12 34 56 78 / 06 98 76 54 32", "phone_invalid"),
    ("06 12 34 56 78, 07 52 34 56 78", "phone_invalid"),
    ("📞 06 12 34 56 78", "phone_invalid"),
    ("06 12 34 56 78 😀", "phone_invalid"),
    ("000000000000000000000000000000000000000000000000000000000000", "phone_invalid"),
    ("012345678901234567890123456789012345678901234567890123456789", "phone_invalid"),
    ("+33612345678901234567", "phone_invalid"),
    ("00000", "phone_invalid"),
    ("0000000000", "phone_invalid"),
    ("\u200b\u200b", "phone_invalid"),
    ("٠", "phone_invalid"),
    ("+" + "9" * 39, "phone_invalid"),
    ("0" * 41, "phone_invalid"),
    ("+0612345678", "phone_invalid"),
    ("+33", "phone_invalid"),
    ("06*12*34*56*78", "phone_invalid"),
    ("¹²³", "phone_invalid"),
    ("0612", "phone_invalid"),
    ("06", "phone_invalid"),
    ("3", "phone_invalid"),
]


def test_phone_corpus_has_at_least_200_distinct_inputs():
    assert len({raw for raw, _ in PHONES}) == len(PHONES) >= 200


@pytest.mark.parametrize(("raw", "expected"), PHONES)
def test_normalize_phone_corpus(raw, expected):
    result = outcome(normalize_phone, raw)

    assert result == expected


def test_phonenumbers_alone_reads_overseas_national_numbers_as_metropolitan():
    # Why normalize_phone retries the French plan: parsed against FR, a Réunion mobile in
    # national form becomes a +33 number that does not exist.
    parsed = phonenumbers.parse("0692 12 34 56", "FR")

    result = (phonenumbers.format_number(parsed, 0), phonenumbers.is_valid_number(parsed))

    assert result == ("+33692123456", False)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07911 123456", "GB", "+447911123456"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("321 23 45", "KM", "+2693212345"),
        ("0692 12 34 56", "RE", "+262692123456"),
        ("0639 01 23 45", "YT", "+262639012345"),
        # A metropolitan mobile typed in an overseas prefecture, and the other way round.
        ("06 12 34 56 78", "RE", "+33612345678"),
        ("06 12 34 56 78", "YT", "+33612345678"),
        ("0696 20 12 34", "GP", "+596696201234"),
        ("0694 12 40 07", "GP", "+594694124007"),  # valid in GP too: the Guyane reading wins
        # Outside the French plan there is no such retry.
        ("06 12 34 56 78", "GB", "phone_invalid"),
        ("+33 6 12 34 56 78", "GB", "+33612345678"),
        ("3949", "RE", "phone_invalid"),
    ],
)
def test_normalize_phone_default_region(raw, region, expected):
    result = outcome(normalize_phone, raw, region)

    assert result == expected


# One realistic mobile per overseas prefix: (as written locally, international form, E.164).
OVERSEAS_MOBILES = [
    ("0690 35 12 34", "+590 690 35 12 34", "+590690351234"),  # Guadeloupe, St-Barth, St-Martin
    ("0691 30 12 34", "+590 691 30 12 34", "+590691301234"),
    ("0694 12 40 07", "+594 694 12 40 07", "+594694124007"),  # Guyane
    ("0696 20 12 34", "+596 696 20 12 34", "+596696201234"),  # Martinique
    ("0697 27 45 10", "+596 697 27 45 10", "+596697274510"),
    ("0692 12 34 56", "+262 692 12 34 56", "+262692123456"),  # La Réunion
    ("0693 40 12 34", "+262 693 40 12 34", "+262693401234"),
    ("0639 01 23 45", "+262 639 01 23 45", "+262639012345"),  # Mayotte
]


def national_layout(local: str, layout: str) -> str:
    digits = local.replace(" ", "")
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return {
        "local": local,
        "pairs": " ".join(pairs),
        "dots": ".".join(pairs),
        "compact": digits,
    }[layout]


@pytest.mark.parametrize("layout", ["local", "pairs", "dots", "compact"])
@pytest.mark.parametrize(("local", "international", "expected"), OVERSEAS_MOBILES)
def test_normalize_phone_overseas_mobile_national_form(local, international, expected, layout):
    raw = national_layout(local, layout)

    result = normalize_phone(raw)

    assert result == expected


@pytest.mark.parametrize(("local", "international", "expected"), OVERSEAS_MOBILES)
def test_normalize_phone_overseas_mobile_international_form(local, international, expected):
    result = normalize_phone(international)

    assert result == expected


def test_phonenumbers_alone_reads_some_guyane_mobiles_as_guadeloupe_ones():
    # Why "0694 12 40 07" was refused: two valid readings (+590 and +594), so the French-plan
    # retry found it ambiguous. normalize_phone now keeps the reading of the prefix's territory.
    readings = {
        region: phonenumbers.is_valid_number(phonenumbers.parse("0694 12 40 07", region))
        for region in ("GP", "GF", "MQ", "RE")
    }

    assert readings == {"GP": True, "GF": True, "MQ": False, "RE": False}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0694 12 40 07", "+594694124007"),
        ("+594 694 12 40 07", "+594694124007"),
        ("+590 694 12 40 07", "+594694124007"),
        ("00590 694 12 40 07", "+594694124007"),
        ("0694 90 12 34", "+594694901234"),
        ("+590 694 90 12 34", "+594694901234"),
        ("0696 60 12 34", "+596696601234"),
        ("+596 696 60 12 34", "+596696601234"),
        ("+590 696 60 12 34", "+596696601234"),
        ("+590 696 71 12 34", "+596696711234"),
    ],
)
def test_normalize_phone_overseas_block_read_under_two_codes_gives_one_key(raw, expected):
    result = normalize_phone(raw)

    assert result == expected


def test_normalize_phone_refuses_long_input_before_parsing():
    raw = "06 12 34 56 78" + " " * 27

    result = outcome(normalize_phone, raw)

    assert (len(raw), result) == (41, "phone_invalid")


# --- Names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("José", "jose"),
        ("Zoë Ñúñez", "zoe nunez"),
        ("Hồ Chí Minh", "ho chi minh"),
        ("Ağaoğlu", "agaoglu"),
        ("أحمد", "احمد"),  # the hamza above alef decomposes to a combining mark
        ("Thérèse-Noëlle", "therese-noelle"),
    ],
)
def test_normalize_name_same_result_for_nfc_and_nfd(name, expected):
    nfc, nfd = unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)

    result = (normalize_name(nfc), normalize_name(nfd))

    assert nfc != nfd
    assert result == (expected, expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مُحَمَّد", "محمد"),  # Arabic harakat are combining marks
        ("محمد علي", "محمد علي"),
        ("\u200fمحمد\u200f", "محمد"),  # right-to-left marks pasted with the name
        ("ﻣﺤﻤﺪ", "محمد"),  # presentation forms, folded by NFKC
        ("علی\u200cرضا", "علیرضا"),  # Persian zero-width non-joiner
        ("فاطمه  رضایی", "فاطمه رضایی"),
        ("שָׁלוֹם כֹּהֵן", "שלום כהן"),  # Hebrew niqqud
        ("Дмитрий Ёлкин", "дмитрии елкин"),  # й and ё lose their marks: fine for matching
        ("ТАРАС Шевченко", "тарас шевченко"),
        ("ተስፋይ ገብረሚካኤል", "ተስፋይ ገብረሚካኤል"),  # Tigrinya (Ethiopic) has no marks to strip
        ("ሰላም ኪዳነ", "ሰላም ኪዳነ"),
    ],
)
def test_normalize_name_scripts(raw, expected):
    result = normalize_name(raw)

    assert result == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\ufeffAnna", "anna"),  # byte-order mark
        ("Anna\u200dMaria", "annamaria"),  # zero-width joiner
        ("Anna\u200bMaria", "annamaria"),  # zero-width space
        ("Ma\u00adrie", "marie"),  # soft hyphen
        ("Jean\u2060Paul", "jeanpaul"),  # word joiner
        ("  Jean \t\u00a0Paul\u3000\n Dupont  ", "jean paul dupont"),
        ("Jean\u2003\u2009Paul", "jean paul"),
        ("N’Diaye", "n'diaye"),
        ("N´Diaye", "n'diaye"),
        ("Jean\u2010Paul", "jean-paul"),
        ("STRAßE", "strasse"),
        ("Ｊｏｓé", "jose"),  # fullwidth letters
    ],
)
def test_normalize_name_invisible_characters_and_spacing(raw, expected):
    result = normalize_name(raw)

    assert result == expected


@pytest.mark.parametrize("raw", ["", " ", " \t\n\u00a0\u3000", "\u200b\u200d\ufeff", "\u0301"])
def test_normalize_name_refuses_empty(raw):
    result = outcome(normalize_name, raw)

    assert result == "name_empty"


@pytest.mark.parametrize(("length", "expected"), [(1000, "name_too_long"), (201, "name_too_long")])
def test_normalize_name_refuses_long_input(length, expected):
    result = outcome(normalize_name, "a" * length)

    assert result == expected


def test_normalize_name_accepts_200_characters():
    result = normalize_name("É" * 200)

    assert result == "e" * 200


# --- Foreign-national numbers and passports ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0123456789", "0123456789"),
        ("01 23 45 67 89", "0123456789"),
        ("0123-456-789", "0123456789"),
        ("01.23.45.67.89", "0123456789"),
        (" 0123456789\n", "0123456789"),
        ("01\u00a023\u202f45\u200b67\u200d89", "0123456789"),
        ("01–23—45−67‐89", "0123456789"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
        ("०१२३४५६७८९", "0123456789"),
        ("０１２３４５６７８９", "0123456789"),
        ("012345678", "id_number_format"),
        ("01234567890", "id_number_format"),
        ("01234567AB", "id_number_format"),
        ("A123456789", "id_number_format"),
        ("0123456789a", "id_number_format"),
        ("", "id_number_format"),
        ("¹²³⁴⁵⁶⁷⁸⁹⁰", "1234567890"),  # NFKC folds superscripts (and fullwidth dots)
        ("০১২৩৪৫৬৭৮", "id_number_format"),  # nine Bengali digits
        ("ⅠⅡⅢ4567890", "id_number_format"),  # Roman numerals are letters after NFKC
        ("0" * 65, "id_number_format"),
    ],
)
def test_normalize_foreign_number(raw, expected):
    result = outcome(normalize_foreign_number, raw)

    assert result == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AB1234567", "AB1234567"),
        ("ab 123 4567", "AB1234567"),
        ("ab-123-4567", "AB1234567"),
        ("Ｐ１２３４５６", "P123456"),
        ("p٠١٢٣٤٥", "P012345"),
        ("1234", "passport_format"),
        ("A" * 21, "passport_format"),
        ("AB12345É", "passport_format"),
        ("AB/12345", "AB12345"),
        ("AB\\12345", "AB12345"),
        ("AB．12345", "AB12345"),  # fullwidth full stop, folded by NFKC
        ("012345678", "12345678"),
        ("P.007.001.45", "P00700145"),
        ("P/007/00145", "P00700145"),
        ("0 0 P007 00145", "P00700145"),
        ("P0070014500", "P0070014500"),  # trailing and inner zeros stay
        ("0" * 40 + "AB12345", "AB12345"),
        ("0001234", "passport_format"),  # 4 characters once the zeros are gone
        ("00000", "passport_format"),
        ("AB_12345", "passport_format"),
        ("AB#12345", "passport_format"),
        ("AB,12345", "passport_format"),
        ("", "passport_format"),
    ],
)
def test_normalize_passport(raw, expected):
    result = outcome(normalize_passport, raw)

    assert result == expected


def test_normalize_passport_same_key_with_and_without_leading_zero():
    variants = ["p-007 00145", "0P00700145", "P00700145", "00p00700145", "0p.007.001.45"]

    result = {normalize_passport(raw) for raw in variants}

    assert result == {"P00700145"}


# --- Nationality -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FR", "FR"),
        ("fr", "FR"),
        (" af\n", "AF"),
        ("\u00a0Km\u3000", "KM"),
        ("xk", "XK"),  # Kosovo
        ("xx", "XX"),  # stateless
        ("ZZ", "nationality"),
        ("", "nationality"),
        ("  ", "nationality"),
        ("FRA", "nationality"),
        ("F R", "nationality"),
        ("France", "nationality"),
        ("ＦＲ", "nationality"),  # fullwidth: not a code from the list
        ("\ufb01", "nationality"),  # the ligature "fi" uppercases to "FI"
        ("F\u200bR", "nationality"),
    ],
)
def test_normalize_nationality(raw, expected):
    result = outcome(normalize_nationality, raw)

    assert result == expected


@pytest.mark.parametrize("language", ["en", "fr"])
def test_normalize_nationality_accepts_every_offered_code(language):
    codes = [code for code, _name in country_choices(language)]

    result = [normalize_nationality(code.lower()) for code in codes]

    assert result == codes


def test_normalize_nationality_message():
    with pytest.raises(NormalizationError) as caught:
        normalize_nationality("ZZ")

    with translation.override("en"):
        message = str(caught.value.message)
    assert (caught.value.code, message) == ("nationality", "Choose your nationality from the list.")


# --- E-mail ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jean.Dupont@Example.FR ", "jean.dupont@example.fr"),
        ("a+fairslot@gmail.com", "a+fairslot@gmail.com"),
        ("ＡＢＣ@example.com", "abc@example.com"),  # fullwidth letters, folded by NFKC
        ("a@bücher.de", "a@xn--bcher-kva.de"),
        ("a@exa\u200dmple.com", "a@example.com"),  # same mailbox: one key
        ("a@example", "email_invalid"),
        ("a@localhost", "email_invalid"),
        ("a@[127.0.0.1]", "email_invalid"),
        ("jean dupont@example.fr", "email_invalid"),
        ("é@example.fr", "email_invalid"),
        ("@example.fr", "email_invalid"),
        ("a@", "email_invalid"),
        ("", "email_invalid"),
        ("a" * 250 + "@b.fr", "email_invalid"),
    ],
)
def test_normalize_email(raw, expected):
    result = outcome(normalize_email, raw)

    assert result == expected


# --- The error ---------------------------------------------------------------------------------


def test_normalization_error_carries_code_and_english_message():
    with pytest.raises(NormalizationError) as caught:
        normalize_phone("0143123456")

    with translation.override("en"):
        english = str(caught.value.message)
    with translation.override("fr"):
        french = str(caught.value.message)
    assert caught.value.code == "phone_landline"
    assert english == (
        "This is a landline number. We send the code by text message (SMS), so enter a mobile "
        "phone number, for example 06 12 34 56 78."
    )
    assert french != english  # the message is translated (lazily, in the reader's language)
    assert isinstance(caught.value, ValueError)


def test_every_error_code_has_a_message():
    result = {code: bool(str(NormalizationError(code).message)) for code in MESSAGES}

    assert result == dict.fromkeys(MESSAGES, True)


# --- Properties --------------------------------------------------------------------------------

_DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９"
_SEPARATORS = ["", "", "", " ", "-", ".", "\u00a0", "\u200b", "\u2010"]


def spaced(chars: str, min_size: int, max_size: int):
    """Text of `chars` with separators between them, as people type identity numbers."""
    pairs = st.tuples(st.sampled_from(chars), st.sampled_from(_SEPARATORS))
    return st.lists(pairs, min_size=min_size, max_size=max_size).map(
        lambda items: "".join(a + b for a, b in items)
    )


# Text shaped like each field, so that idempotence is also checked on accepted values (arbitrary
# text is mostly refused).
SHAPED = {
    normalize_name: st.text(max_size=60),
    normalize_foreign_number: spaced(_DIGITS, 9, 11),
    normalize_passport: spaced("ABZabzß019", 4, 21),
    normalize_nationality: st.tuples(
        st.sampled_from([code for code, _en, _fr in COUNTRIES] + ["XX", "ZZ"]),
        st.sampled_from([str.upper, str.lower, str.title]),
        st.sampled_from(["", " ", "\t"]),
    ).map(lambda parts: parts[2] + parts[1](parts[0]) + parts[2]),
    normalize_phone: st.one_of(
        st.from_regex(r"(\+33 ?|0033|0)[67]( ?[0-9]{2}){4}", fullmatch=True),
        st.from_regex(r"(\+|00)(1|44|93|234|262|269|590|594|596)[0-9]{7,10}", fullmatch=True),
        st.from_regex(r"0(6(39|9[0-7])|70[89])( ?[0-9]{2}){3}", fullmatch=True),
        spaced("+()" + _DIGITS, 0, 16),
    ),
    normalize_email: st.one_of(st.emails(), st.emails().map(str.upper)),
}
NORMALISERS = list(SHAPED)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("normalise", NORMALISERS, ids=lambda f: f.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_normaliser_is_idempotent(normalise, data):
    raw = data.draw(st.one_of(SHAPED[normalise], st.text()))
    try:
        once = normalise(raw)
    except NormalizationError:
        return

    twice = normalise(once)

    assert twice == once


@pytest.mark.parametrize("normalise", NORMALISERS, ids=lambda f: f.__name__)
@PROPERTY_SETTINGS
@given(raw=st.text())
def test_normaliser_raises_only_normalization_error(normalise, raw):
    try:
        result = normalise(raw)
    except NormalizationError as error:
        result = error

    assert isinstance(result, str | NormalizationError)


@PROPERTY_SETTINGS
@given(
    number=st.from_regex(r"[A-Z1-9][A-Z0-9]{4,15}", fullmatch=True),
    zeros=st.integers(min_value=0, max_value=3),
    separators=st.lists(
        st.sampled_from(["", "", " ", "-", ".", "/", "\u00a0", "\u2010"]), min_size=19, max_size=19
    ),
    lower=st.booleans(),
)
def test_normalize_passport_ignores_case_separators_and_leading_zeros(
    number, zeros, separators, lower
):
    typed = "".join(ch + sep for ch, sep in zip("0" * zeros + number, separators, strict=False))
    raw = typed.lower() if lower else typed

    result = normalize_passport(raw)

    assert result == number


@PROPERTY_SETTINGS
@given(national=st.from_regex(r"(6(39|9[0-7])|70[89])[0-9]{6}", fullmatch=True))
def test_normalize_phone_french_plan_one_key_per_line(national):
    # Every accepted reading of the same nine digits, national or under any calling code of
    # the plan, is one key: otherwise one phone could make two entries.
    forms = [f"0{national}"] + [f"+{code}{national}" for code in (33, 262, 508, 590, 594, 596)]

    results = {outcome(normalize_phone, raw) for raw in forms}

    keys = {result for result in results if result.startswith("+")}
    assert len(keys) <= 1


# --- Countries ---------------------------------------------------------------------------------


def test_country_codes_are_unique_two_uppercase_letters():
    codes = [code for code, _en, _fr in COUNTRIES]

    assert len(codes) == len(set(codes)) >= 249
    assert [c for c in codes if not (len(c) == 2 and c.isascii() and c.isupper())] == []


def test_countries_are_named_in_both_languages():
    missing = [code for code, en, fr in COUNTRIES if not (en.strip() and fr.strip())]

    assert missing == []


@pytest.mark.parametrize(("language", "stateless"), [("fr", "Apatride"), ("en", "Stateless")])
def test_country_choices_sorted_ignoring_accents_stateless_last(language, stateless):
    choices = country_choices(language)

    names = [name for _code, name in choices[:-1]]

    assert names == sorted(names, key=sort_key)
    assert (len(choices), choices[0], choices[-1]) == (
        len(COUNTRIES) + 1,
        ("AF", "Afghanistan"),
        ("XX", stateless),
    )


def test_country_choices_french_puts_accented_e_among_e():
    names = [name for _code, name in country_choices("fr")]
    egypt = names.index("Égypte")

    result = names[egypt - 1 : egypt + 5]

    assert result == [
        "Dominique",
        "Égypte",
        "Émirats arabes unis",
        "Équateur",
        "Érythrée",
        "Espagne",
    ]


@pytest.mark.parametrize("language", ["fr", "fr-fr", "fr_FR", "FR"])
def test_country_choices_french_language_codes(language):
    result = dict(country_choices(language))

    assert (result["DE"], result["XX"]) == ("Allemagne", "Apatride")


@pytest.mark.parametrize("language", ["en", "en-gb", "de", "ar", "fy", "frr", ""])
def test_country_choices_english_for_other_languages(language):
    result = dict(country_choices(language))

    assert (result["DE"], result["XX"]) == ("Germany", "Stateless")


@pytest.mark.parametrize(("language", "column"), [("fr", 2), ("en", 1)])
def test_country_choices_names_in_the_language(language, column):
    expected = {row[0]: row[column] for row in (*COUNTRIES, STATELESS)}

    result = dict(country_choices(language))

    assert result == expected


def test_country_choices_english_puts_accented_a_among_a():
    names = [name for _code, name in country_choices("en")]

    result = names[:4]

    assert result == ["Afghanistan", "Åland Islands", "Albania", "Algeria"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("FR", True), ("KM", True), ("XK", True), ("XX", True), ("fr", False), ("ZZ", False)],
)
def test_is_country(code, expected):
    result = is_country(code)

    assert result == expected
