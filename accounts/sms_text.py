"""What an SMS costs: its alphabet and its number of parts (segments).

An SMS part carries 160 characters of the GSM 03.38 alphabet (GSM-7), or 70 UTF-16 code units
(UCS-2) as soon as one character is outside it; a long message is split into parts of 153 or
67, each billed as one SMS. French and English texts are folded into GSM-7 (accents dropped:
one accent would make the whole message UCS-2 and cost up to three parts); Arabic, Dari,
Pashto, Ukrainian, Russian and Tigrinya cannot be, and are sent in UCS-2. The SMS budget
(accounts.sms_budget) counts parts, not messages.
"""

import math
import unicodedata

# GSM 03.38 basic character set, and its extension table (two septets each: escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
# Languages written in the Latin script: their messages are folded into GSM-7.
LATIN_LANGUAGES = frozenset({"fr", "en"})
# Extension characters replaced when folding (some gateways drop them, each costs two septets).
_FOLD_EXTENSION = str.maketrans({"^": "'", "{": "(", "}": ")", "\\": "/", "[": "(", "]": ")",
                                 "~": "-", "|": "/", "€": "EUR", "`": "'"})  # fmt: skip


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def segments(text: str) -> int:
    """How many SMS parts `text` is sent in (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        septets = len(text) + sum(char in GSM7_EXTENSION for char in text)
        return 1 if septets <= GSM7_SINGLE else math.ceil(septets / GSM7_PART)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_PART)


def single_part_room(text: str) -> int:
    """How many characters `text` may lose or gain to stay one part in its own alphabet
    (negative when it is too long by that many)."""
    if is_gsm7(text):
        return GSM7_SINGLE - len(text) - sum(char in GSM7_EXTENSION for char in text)
    return UCS2_SINGLE - len(text.encode("utf-16-le")) // 2


def gsm7(text: str) -> str:
    """Fold a text into the GSM 03.38 basic alphabet (ASCII letters and punctuation): accents
    are dropped rather than forcing the whole SMS into UCS-2 (70 characters a part)."""
    folded = unicodedata.normalize("NFKD", text).translate(_FOLD_EXTENSION)
    return folded.encode("ascii", "ignore").decode("ascii")


def for_sms(text: str, language: str) -> str:
    """The text as sent by SMS in `language`: folded into GSM-7 for a Latin-script language,
    as written otherwise (folding Arabic or Cyrillic would erase it)."""
    if language.split("-")[0] in LATIN_LANGUAGES:
        return gsm7(text)
    return text
