"""Field encryption and blind indexes for personal data.

Identity numbers and phones are stored encrypted with Fernet (MultiFernet: the first key of
FIELD_ENCRYPTION_KEYS encrypts, all of them decrypt, which is how keys rotate). Encryption is
randomised, so uniqueness cannot rest on the ciphertext: it rests on a keyed HMAC of the
normalised value (a blind index) computed with a separate key, one derived key per purpose so
that two columns cannot be joined against each other.
"""

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key. Never return ciphertext."""


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key (used by the key-rotation command)."""
    try:
        return _current().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from None


@functools.cache
def _purpose_key(master: str, purpose: str) -> bytes:
    return hmac.new(master.encode(), f"fairslot/blind-index/{purpose}".encode(), "sha256").digest()


def blind_index(purpose: str, normalised: str) -> str:
    """Keyed one-way hash of an already normalised value, as 64 hex characters."""
    key = _purpose_key(settings.BLIND_INDEX_KEY, purpose)
    return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; reading with a wrong key raises DecryptionError."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
