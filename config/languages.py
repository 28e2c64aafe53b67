"""The eight languages of the applicant pages and messages, each named in its own script.

Django knows Arabic, Ukrainian and Russian, but not Dari (`fa-af`), Pashto (`ps`) or Tigrinya
(`ti`): their names and directions are added to `django.conf.locale.LANG_INFO`, the public
table that `{% get_language_info %}` and `get_language_bidi()` read. Their plural forms are in
the header of each catalog under locale/. Django's own catalogs exist for Persian (used for
Dari as a fallback) but not for Pashto or Tigrinya: the few Django messages that reach
applicants are translated in our catalogs (config/django_strings.py).

Staff pages are in French or English only (`STAFF_LANGUAGES`): an agent whose browser asks for
Arabic gets French there (config.middleware.StaffLanguageMiddleware).
"""

from django.conf.locale import LANG_INFO

LANGUAGES = [
    ("fr", "Français"),
    ("en", "English"),
    ("ar", "العربية"),
    ("fa-af", "دری"),
    ("ps", "پښتو"),
    ("uk", "Українська"),
    ("ru", "Русский"),
    ("ti", "ትግርኛ"),
]
# Right to left: Django's list plus Pashto (Dari is "fa-af": Django compares "fa").
LANGUAGES_BIDI = ["he", "ar", "ar-dz", "ckb", "fa", "ps", "ug", "ur"]
STAFF_LANGUAGES = ("fr", "en")

EXTRA_LANG_INFO = {
    "fa-af": {"bidi": True, "code": "fa-af", "name": "Dari", "name_local": "دری"},
    "ps": {"bidi": True, "code": "ps", "name": "Pashto", "name_local": "پښتو"},
    "ti": {"bidi": False, "code": "ti", "name": "Tigrinya", "name_local": "ትግርኛ"},
}
LANG_INFO.update(EXTRA_LANG_INFO)
