"""Baray's wire format, and the fake refusing what real Baray would: the encryption (AES-256-CBC, PKCS#7, base64 key
and IV), the API key, the payload, the minimums."""

import base64
import json
import subprocess
import sys

import httpx
import pytest
from django.conf import settings

from apps.payments.baray import AesKey, DecryptionFailed

KEY = AesKey(base64.b64encode(bytes(range(32))).decode(), base64.b64encode(bytes(range(16))).decode())


def test_encryption_is_aes_256_cbc_with_pkcs7_and_base64():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ciphertext = base64.b64decode(KEY.encrypt("top_1"))
    assert len(ciphertext) == 16
    decryptor = Cipher(algorithms.AES(bytes(range(32))), modes.CBC(bytes(range(16)))).decryptor()
    assert decryptor.update(ciphertext) + decryptor.finalize() == b"top_1" + bytes([11]) * 11


def test_keys_may_carry_barays_prefixes():
    prefixed = AesKey("sk_prod_" + KEY.secret_key, "wh_iv_" + KEY.iv)
    assert prefixed.decrypt(KEY.encrypt("top_1")) == "top_1"


@pytest.mark.parametrize("ciphertext", ["", "***", "c2hvcnQ=", base64.b64encode(bytes(32)).decode()])
def test_every_decryption_failure_is_the_same_error(ciphertext):
    with pytest.raises(DecryptionFailed):
        KEY.decrypt(ciphertext)


def post_intent(baray, payload: object, *, api_key: str | None = None, key: AesKey | None = None) -> httpx.Response:
    data = (key or baray.key).encrypt(json.dumps(payload))
    return httpx.post(
        f"{baray.endpoint}/pay", json={"data": data}, headers={"x-api-key": api_key or settings.BARAY_API_KEY}
    )


def test_the_fake_refuses_a_wrong_api_key_and_a_wrong_encryption(baray):
    payload = {"amount": "1.00", "currency": "USD", "order_id": "o1"}
    assert post_intent(baray, payload, api_key="pk_dev_other").status_code == 401
    assert post_intent(baray, payload, key=KEY).status_code == 400
    assert post_intent(baray, payload).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": "0.02", "currency": "USD", "order_id": "o1"},
        {"amount": "99", "currency": "KHR", "order_id": "o1"},
        {"amount": 5, "currency": "USD", "order_id": "o1"},
        {"amount": "5", "currency": "EUR", "order_id": "o1"},
        {"amount": "5", "currency": "USD"},
        [],
    ],
)
def test_the_fake_checks_the_payload_and_barays_minimums(baray, payload):
    assert post_intent(baray, payload).status_code == 400
    assert baray.intents == []


def test_the_fake_injects_errors_and_latency(baray):
    payload = {"amount": "1.00", "currency": "USD", "order_id": "o1"}
    baray.fail_next(2)
    assert [post_intent(baray, payload).status_code for _ in range(3)] == [503, 503, 200]
    baray.latency_seconds = 0.05
    assert post_intent(baray, payload).elapsed.total_seconds() >= 0.05


def test_the_command_runs_the_fake_in_its_own_process(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "baray_fake", "--port", "0"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Baray fake listening on http://127.0.0.1:")
        endpoint = line.split()[4].rstrip(";")
        assert httpx.get(f"{endpoint}/pay/{'0' * 24}", headers={"x-api-key": "nope"}).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_mistyped_key_stops_start_up(settings):
    from apps.payments.checks import check_baray_keys

    assert check_baray_keys() == []
    settings.BARAY_IV = base64.b64encode(b"fifteen bytes!!").decode()
    settings.BARAY_WEBHOOK_SECRET_KEY, settings.BARAY_WEBHOOK_IV = "not base64!", KEY.iv
    assert [error.id for error in check_baray_keys()] == ["payments.E001", "payments.E001"]
