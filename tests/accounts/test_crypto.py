import base64
import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import contacts, rekey
from accounts.crypto import DecryptionError, blind_index, decrypt, encrypt, rotate
from accounts.models import Contact, Person
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

    stored = _stored(person.pk, "identifier")

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


# --- Key rotation over the stored rows (manage.py rotate_field_keys) ---------------------------


def _stored(pk: int, column: str) -> str:
    """A person's column as stored (no decryption)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM accounts_person WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _store(pk: int, column: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE accounts_person SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def test_rotate_field_keys_rewrites_every_value_under_the_newest_key(db, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    person = PersonFactory(identifier="7512345678", family_name="Haidari")
    contact = contacts.get_or_create_contact(kind="phone", value="+33612345678")
    _store(person.pk, "given_names", Fernet(old_key.encode()).encrypt(b"Amina").decode())  # old
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    out, again = io.StringIO(), io.StringIO()

    call_command("rotate_field_keys", "--batch", "1", stdout=out)
    call_command("rotate_field_keys", stdout=again)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key retired

    fresh = Person.objects.get(pk=person.pk)
    assert (fresh.identifier, fresh.given_names, fresh.family_name) == (
        "7512345678",
        "Amina",
        "Haidari",
    )
    assert Contact.objects.get(pk=contact.pk).value == "+33612345678"
    assert _stored(person.pk, "given_names").startswith("g1.")
    assert "accounts.Person: 1/1 rows read, 4 values rewritten" in out.getvalue()
    assert "Done: 0 values rewritten" not in out.getvalue()
    assert "Done: 0 values rewritten" in again.getvalue()  # all current: nothing to do


def test_rotate_field_keys_stops_at_a_value_no_key_reads_and_says_where(db, settings):
    person = PersonFactory(identifier="7512345678")
    stranger = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    _store(person.pk, "identifier", stranger)
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    with pytest.raises(CommandError, match=rf"accounts.Person {person.pk}: identifier cannot"):
        call_command("rotate_field_keys")

    assert _stored(person.pk, "identifier") == stranger  # left as it was, never returned


def test_a_value_changed_since_it_was_read_is_not_overwritten(db):
    person = PersonFactory(family_name="Haidari")
    stored = _stored(person.pk, "family_name")
    Person.objects.filter(pk=person.pk).update(family_name="Rahimi")  # meanwhile

    assert rekey._rewrite(Person, person.pk, "family_name", stored) == 0
    assert Person.objects.get(pk=person.pk).family_name == "Rahimi"
