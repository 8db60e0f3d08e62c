"""Encryption at rest (apps.core.crypto): authenticated, bound to its column, keyed by id for rotation; blind
indexes are deterministic under their key and differ under another; bad keys are refused at start-up."""

import base64

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from apps.core import crypto

NEW_KEY = "k2=bmV3LXRlc3Qta2V5LWZvci1yb3RhdGlvbi0wMDAwMDE="


def test_a_value_decrypts_to_itself_and_never_encrypts_the_same_way_twice():
    first = crypto.encrypt("លេខកូដ 482913", context="t.c")
    second = crypto.encrypt("លេខកូដ 482913", context="t.c")
    assert first != second and first.startswith("pp1.test1.")
    assert "482913" not in first
    assert crypto.decrypt(first, context="t.c") == crypto.decrypt(second, context="t.c") == "លេខកូដ 482913"


def test_a_value_moved_to_another_column_does_not_decrypt():
    token = crypto.encrypt("+85512345678", context="messaging_message.to")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(token, context="delivery_webhookevent.body")


def test_an_altered_value_does_not_decrypt():
    token = crypto.encrypt("hello", context="t.c")
    prefix, encoded = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(encoded))
    raw[-20] ^= 1  # one bit of the ciphertext
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(f"{prefix}.{base64.urlsafe_b64encode(bytes(raw)).decode()}", context="t.c")


def test_a_value_under_a_key_no_longer_listed_does_not_decrypt(settings):
    token = crypto.encrypt("hello", context="t.c")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.DecryptionFailed, match="No key 'test1'"):
        crypto.decrypt(token, context="t.c")


def test_the_first_key_encrypts_and_every_listed_key_decrypts(settings):
    old = crypto.encrypt("hello", context="t.c")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    assert crypto.key_id_of(crypto.encrypt("hello", context="t.c")) == "k2"
    assert crypto.decrypt(old, context="t.c") == "hello"


def test_blind_index_is_deterministic_and_keyed(settings):
    index = crypto.blind_index("+85512345678")
    assert index == crypto.blind_index("+85512345678") != crypto.blind_index("+85512345679")
    assert len(index) == 32 and "85512345678" not in index
    settings.BLIND_INDEX_KEY = "another-key"
    assert crypto.blind_index("+85512345678") != index
    assert crypto.blind_index("") == ""


@pytest.mark.parametrize(
    "entries",
    [
        ["k1=c2hvcnQ="],
        ["k1"],
        ["=" + NEW_KEY.split("=", 1)[1]],
        [NEW_KEY, NEW_KEY],
        ["k-1=" + NEW_KEY.split("=", 1)[1]],
    ],
)
def test_bad_key_lists_are_refused(entries):
    with pytest.raises(ImproperlyConfigured):
        crypto.parse_keys(entries)


def test_system_check_reports_unusable_keys(settings):
    assert not [m for m in run_checks() if m.id in ("core.E001", "core.E002")]
    settings.FIELD_ENCRYPTION_KEYS = ["k1=c2hvcnQ="]
    settings.BLIND_INDEX_KEY = ""
    assert {m.id for m in run_checks() if m.id.startswith("core.E")} >= {"core.E001", "core.E002"}


def test_the_stored_format_is_the_documented_construction(settings):
    """Values written by any version decrypt: AES-256-GCM under HMAC-SHA256(key, "pp-field-v1" + salt), the column
    as associated data; the blind index is HMAC-SHA256(BLIND_INDEX_KEY, value), hex, truncated to 128 bits."""
    import hashlib
    import hmac
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_id, key = next(iter(crypto.keys().items()))
    salt, nonce = os.urandom(crypto.SALT_BYTES), os.urandom(crypto.NONCE_BYTES)
    sealed = AESGCM(hmac.digest(key, b"pp-field-v1" + salt, "sha256")).encrypt(nonce, "ស្ងាត់".encode(), b"t.c")
    token = f"pp1.{key_id}.{base64.urlsafe_b64encode(salt + nonce + sealed).decode()}"
    assert crypto.decrypt(token, context="t.c") == "ស្ងាត់"
    raw = base64.urlsafe_b64decode(crypto.encrypt("hello", context="t.c").split(".", 2)[2])
    subkey = hmac.digest(key, b"pp-field-v1" + raw[: crypto.SALT_BYTES], "sha256")
    opened = AESGCM(subkey).decrypt(raw[crypto.SALT_BYTES : crypto.SALT_BYTES + crypto.NONCE_BYTES], raw[28:], b"t.c")
    assert opened == b"hello"
    expected = hmac.new(settings.BLIND_INDEX_KEY.encode(), b"+85512345678", hashlib.sha256).hexdigest()[:32]
    assert crypto.blind_index("+85512345678") == expected


def _parts(token: str) -> tuple[bytes, bytes]:
    raw = base64.urlsafe_b64decode(token.rsplit(".", 1)[1])
    return raw[: crypto.SALT_BYTES], raw[crypto.SALT_BYTES : crypto.SALT_BYTES + crypto.NONCE_BYTES]


def test_a_batch_is_encrypted_like_single_values_each_with_a_nonce_of_its_own():
    texts = ["លេខកូដ 482913", "+85512345678", "+85512345678", "x" * 2000]
    tokens = crypto.encrypt_many(texts, context="t.c")
    assert [crypto.decrypt(token, context="t.c") for token in tokens] == texts
    assert all(token.startswith("pp1.test1.") for token in tokens) and tokens[1] != tokens[2]
    assert len({_parts(token)[0] for token in tokens}) == 1  # one subkey for the batch…
    assert len({_parts(token)[1] for token in tokens}) == len(texts)  # …and never one nonce twice under it
    assert _parts(crypto.encrypt_many(texts[:1], context="t.c")[0])[0] != _parts(tokens[0])[0]  # a fresh salt a batch
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(tokens[0], context="t.other")
    assert crypto.encrypt_many([], context="t.c") == []


def test_a_batch_larger_than_a_subkey_takes_several():
    tokens = crypto.encrypt_many(["a"] * (crypto.MANY_PER_SUBKEY + 1), context="t.c")
    salts = [_parts(token)[0] for token in tokens]
    assert salts[0] == salts[-2] != salts[-1]
    assert len({_parts(token) for token in tokens}) == len(tokens)
    assert crypto.decrypt(tokens[-1], context="t.c") == "a"
