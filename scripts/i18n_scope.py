"""Which strings of the catalogs applicants can read, and which of them a language lacks.

A string is applicant-facing when at least one place that uses it is not staff-only (the staff
pages, the admin, the draw's staff forms and services, the desk). Staff pages are shown in
French or English (config/languages.py), so the other six catalogs need only these strings.

    python scripts/i18n_scope.py ar        # the applicant-facing strings Arabic lacks
    python scripts/i18n_scope.py --count   # how many each language lacks

tests/test_translations.py fails while any language lacks one.
"""

import re
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["fr", "ar", "fa_AF", "ps", "uk", "ru", "ti"]  # English is the source text
STAFF_ONLY = re.compile(
    r"(/staff/|/staff_|staff_|admin|accounts/templates/|four_eyes|day_list|capacity|checkin|"
    r"duplicates|helpers|partners|counter|absences|slots|lottery/forms|lottery/services\.py|"
    r"services_run|services_reveal|services_tick|services_carry|lottery/kit|ops/|config/parsers)"
)
# A message to the person: "Fairslot: …", "Fairslot E-…", "Fairslot %(entry)s…".
SMS = re.compile(r"Fairslot( E-|:| %\()")


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / language / "LC_MESSAGES" / "django.po"))


def applicant_facing(entry: polib.POEntry) -> bool:
    """Used outside the staff-only places, or a message to the person ("Fairslot …": an SMS
    or e-mail, even one that a staff action sends)."""
    return SMS.match(entry.msgid) is not None or any(
        not STAFF_ONLY.search(path) for path, _line in entry.occurrences
    )


def missing(language: str) -> list[polib.POEntry]:
    """The applicant-facing entries of `language` without a translation, or marked fuzzy."""
    return [
        entry
        for entry in catalog(language)
        if applicant_facing(entry)
        and (not entry.translated() or "fuzzy" in entry.flags)
        and not entry.obsolete
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["--count"]:
        for language in LANGUAGES:
            print(language, len(missing(language)))
    else:
        for entry in missing(sys.argv[1]):
            plural = f" | {entry.msgid_plural}" if entry.msgid_plural else ""
            print(f"{entry.msgid}{plural}")
