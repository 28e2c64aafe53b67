"""The eight catalogs: every string an applicant can read is translated in each language
(scripts/i18n_scope.py says which strings those are), the placeholders match, and the
compiled catalogs are the ones in the repository."""

import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import i18n_scope  # noqa: E402

CATALOGS = i18n_scope.LANGUAGES


@pytest.mark.parametrize("language", CATALOGS)
def test_every_applicant_facing_string_is_translated(language):
    missing = [entry.msgid for entry in i18n_scope.missing(language)]

    assert missing == [], f"{language}: {len(missing)} untranslated, e.g. {missing[:5]}"


@pytest.mark.parametrize("language", CATALOGS)
def test_catalogs_pass_msgfmt_format_checks(language):
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"

    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", CATALOGS)
def test_compiled_catalog_matches_its_source(language):
    po = polib.pofile(str(ROOT / "locale" / language / "LC_MESSAGES" / "django.po"))
    mo = polib.mofile(str(ROOT / "locale" / language / "LC_MESSAGES" / "django.mo"))
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in mo if not e.msgid_plural}

    for entry in po.translated_entries():
        if not entry.msgid_plural and "fuzzy" not in entry.flags:
            key = (entry.msgctxt, entry.msgid)
            assert compiled.get(key) == entry.msgstr, (language, key)


def test_every_language_is_offered_in_its_own_script_and_direction():
    names = dict(settings.LANGUAGES)

    assert list(names) == ["fr", "en", "ar", "fa-af", "ps", "uk", "ru", "ti"]
    assert names["ar"] == "العربية" and names["uk"] == "Українська" and names["ti"] == "ትግርኛ"
    for code in names:
        assert translation.check_for_language(code), code
        info = translation.get_language_info(code)
        assert info["bidi"] == (code in ("ar", "fa-af", "ps")), code
        with translation.override(code):
            assert translation.get_language_bidi() == info["bidi"], code


def test_djangos_own_messages_are_translated_where_django_has_no_catalog():
    with translation.override("ps"):
        pashto = translation.gettext("This field is required.")
    with translation.override("ti"):
        tigrinya = translation.gettext("This field is required.")

    assert pashto != "This field is required." and tigrinya != "This field is required."


@pytest.mark.django_db
def test_staff_pages_stay_in_french_or_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    staff = client.get("/admin/login/").content.decode()
    public = client.get("/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/admin/login/").content.decode()

    assert '<html lang="fr"' in staff and 'dir="rtl"' not in staff
    assert '<html lang="ar" dir="rtl"' in public
    assert '<html lang="en' in english
