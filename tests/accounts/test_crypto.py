import base64

import pytest
from cryptography.fernet import Fernet

from accounts.crypto import DecryptionError, blind_index, decrypt, encrypt, rotate
from accounts.models import Person
from tests.factories import PersonFactory


def test_encrypt_roundtrip_is_randomised():
    first, second = encrypt("7512345678"), encrypt("7512345678")

    assert first != second
    assert decrypt(first) == decrypt(second) == "7512345678"


def test_decrypt_with_wrong_key_raises_never_returns_ciphertext(settings):
    token = encrypt("7512345678")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(DecryptionError):
        decrypt(token)


def test_rotation_keeps_old_rows_readable_and_rewrites_them_under_the_newest_key(settings):
    token = encrypt("7512345678")
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    readable = decrypt(token)
    rotated = rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key retired

    assert readable == decrypt(rotated) == "7512345678"
    with pytest.raises(DecryptionError):
        decrypt(token)


def test_blind_index_is_keyed_and_per_purpose(settings):
    identity = blind_index("identity", "agdref:7512345678")
    settings.BLIND_INDEX_KEY = "another-key-" + "x" * 32

    assert identity != blind_index("identity", "agdref:7512345678")
    assert blind_index("identity", "v") != blind_index("contact", "v")


def test_person_identifier_is_stored_encrypted(db):
    person = PersonFactory(identifier="7512345678")

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT identifier FROM accounts_person WHERE id = %s", [person.pk])
        stored = cursor.fetchone()[0]

    assert "7512345678" not in stored
    assert Person.objects.get(pk=person.pk).identifier == "7512345678"


def test_values_are_sealed_with_aes_gcm_and_tampering_is_refused():
    token = encrypt("7512345678")
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 1  # one bit of the tag
    tampered = "g1." + base64.urlsafe_b64encode(bytes(raw)).decode()

    assert token.startswith("g1.") and "7512345678" not in token
    assert len(raw) == 12 + len("7512345678") + 16  # nonce, ciphertext, tag
    for bad in (tampered, "g1.", "g1.!!!", "g1." + "A" * 20, token[:-4]):
        with pytest.raises(DecryptionError):
            decrypt(bad)


def test_fernet_tokens_written_before_still_decrypt_and_rotate_to_the_new_form(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    written_before = Fernet(old_key.encode()).encrypt(b"+33612345678").decode()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]

    rotated = rotate(written_before)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key retired

    assert rotated.startswith("g1.") and decrypt(rotated) == "+33612345678"
    with pytest.raises(DecryptionError):
        decrypt(written_before)
