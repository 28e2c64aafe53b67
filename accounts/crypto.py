"""Field encryption and blind indexes for personal data.

Identity numbers and phones are stored encrypted with AES-256-GCM (authenticated), under a key
derived from each of FIELD_ENCRYPTION_KEYS (Fernet keys: the first one encrypts, all of them
decrypt, which is how keys rotate). A stored value is "g1." then base64url of a random 96-bit
nonce, the ciphertext and its tag. Values written before 2026-11-27 are Fernet tokens
(AES-128-CBC with HMAC-SHA256), which still decrypt with the same keys; `rotate` rewrites one
under the newest key, in the new form. (AES-GCM costs about 2 us a value against 15 for Fernet,
and a registration encrypts ten; measured in the change that brought it, 2026-11-27.) Random nonces
stay safe far beyond a billion values per key; rotate keys well before that.

Encryption is randomised, so uniqueness cannot rest on the ciphertext: it rests on a keyed HMAC
of the normalised value (a blind index) computed with a separate key, one derived key per
purpose so that two columns cannot be joined against each other.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

_GCM = "g1."
_NONCE = 12


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key. Never return ciphertext."""


@functools.cache
def _keys(keys: tuple[str, ...]) -> tuple[list[AESGCM], MultiFernet]:
    """Per configured key, newest first: the AES-GCM key derived from it; and the Fernet keys
    themselves, for values written in the old form."""
    derived = [
        AESGCM(
            hmac.new(
                base64.urlsafe_b64decode(key), b"fairslot/field-encryption/aes-256-gcm", "sha256"
            ).digest()
        )
        for key in keys
    ]
    return derived, MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> tuple[list[AESGCM], MultiFernet]:
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(_NONCE)
    sealed = _current()[0][0].encrypt(nonce, plaintext.encode("utf-8"), None)
    return _GCM + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt(token: str) -> str:
    derived, fernet = _current()
    try:
        if token.startswith(_GCM):
            return _unsealed(token, derived).decode("utf-8")
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, InvalidTag, ValueError, UnicodeError, binascii.Error):
        raise DecryptionError("stored value cannot be decrypted with the configured keys") from None


def sealed_with_newest(token: str) -> bool:
    """Whether a stored value is in the current form under the newest key (nothing to rotate)."""
    if not token.startswith(_GCM):
        return False
    try:
        _unsealed(token, _current()[0][:1])
    except (InvalidTag, ValueError, binascii.Error):
        return False
    return True


def _unsealed(token: str, keys: list[AESGCM]) -> bytes:
    """The plaintext of a value in the current form, opened by the first of `keys` that can;
    raises InvalidTag if none can (or the value was changed)."""
    raw = base64.urlsafe_b64decode(token[len(_GCM) :])
    for key in keys:
        try:
            return key.decrypt(raw[:_NONCE], raw[_NONCE:], None)
        except InvalidTag:
            continue
    raise InvalidTag


def rotate(token: str) -> str:
    """Re-encrypt a stored value under the newest key, in the current form."""
    return encrypt(decrypt(token))


@functools.cache
def _purpose_key(master: str, purpose: str) -> bytes:
    return hmac.new(master.encode(), f"fairslot/blind-index/{purpose}".encode(), "sha256").digest()


def blind_index(purpose: str, normalised: str) -> str:
    """Keyed one-way hash of an already normalised value, as 64 hex characters."""
    key = _purpose_key(settings.BLIND_INDEX_KEY, purpose)
    return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column stored encrypted (`encrypt`); reading with a wrong key raises
    DecryptionError."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
