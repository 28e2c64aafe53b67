import pytest
from cryptography.fernet import Fernet

from accounts.crypto import DecryptionError, blind_index, decrypt, encrypt
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


def test_rotation_keeps_old_rows_readable(settings):
    token = encrypt("7512345678")
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    assert decrypt(token) == "7512345678"


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
