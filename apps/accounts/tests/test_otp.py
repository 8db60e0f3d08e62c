"""Phone OTP: request, verify, expiry, single use, lock-out, cooldown, rate limits, look-alike failures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import OtpChallenge, User
from apps.accounts.tests.helpers import code_from, sign_in
from apps.audit.models import AuditLog

# Transactional: codes are sent when the transaction commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+85512345678"


def request_code(api_client, phone="012 345 678", **headers):
    return api_client.post("/api/auth/otp/request", {"phone": phone}, format="json", **headers)


def verify(api_client, code, phone="012 345 678"):
    return api_client.post("/api/auth/otp/verify", {"phone": phone, "code": code}, format="json")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_full_flow_creates_the_user_once_and_signs_in(api_client, otp_outbox):
    response = request_code(api_client)
    assert response.status_code == 202
    assert response.json() == {"expires_in": 300, "resend_after": 60}
    assert len(otp_outbox) == 1 and otp_outbox[0].phone == PHONE

    body = verify(api_client, code_from(otp_outbox[0])).json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"]["phone"] == PHONE
    user = User.objects.get(phone=PHONE)
    assert AuditLog.objects.filter(action="user.created", target_id=str(user.pk)).count() == 1

    # A second login of the same phone signs in the same user.
    api_client.credentials()
    assert sign_in(api_client, _fresh(otp_outbox))["user"]["id"] == user.pk
    assert User.objects.filter(phone=PHONE).count() == 1


def _fresh(outbox):
    """Let the resend cooldown pass (it lives in the cache) without waiting."""
    from django.core.cache import cache

    cache.clear()
    return outbox


def test_the_code_is_stored_only_as_a_hash(api_client, otp_outbox):
    request_code(api_client)
    code = code_from(otp_outbox[0])
    challenge = OtpChallenge.objects.get()
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert code not in str(challenge.__dict__)


def test_text_is_khmer_by_default_and_english_by_preference(api_client, otp_outbox):
    request_code(api_client)
    assert any("\u1780" <= char <= "\u17ff" for char in otp_outbox[-1].text)
    User.objects.create_user(PHONE, preferred_language="en")
    _fresh(otp_outbox)
    request_code(api_client)
    assert otp_outbox[-1].text.startswith("Your PeerPower code is")


def test_a_code_works_once(api_client, otp_outbox):
    request_code(api_client)
    code = code_from(otp_outbox[0])
    assert verify(api_client, code).status_code == 200
    again = verify(api_client, code)
    assert again.status_code == 400 and again.json()["code"] == "otp_invalid"


def test_expired_code(api_client, otp_outbox):
    request_code(api_client)
    OtpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = verify(api_client, code_from(otp_outbox[0]))
    assert response.status_code == 400 and response.json()["code"] == "otp_expired"


def test_wrong_codes_count_down_then_lock_even_the_right_code(api_client, otp_outbox):
    request_code(api_client)
    code = code_from(otp_outbox[0])
    lefts = [verify(api_client, wrong(code)).json() for _ in range(4)]
    assert [body["details"]["attempts_left"] for body in lefts] == [4, 3, 2, 1]
    assert {body["code"] for body in lefts} == {"otp_invalid"}
    assert verify(api_client, wrong(code)).json()["code"] == "otp_locked"
    assert verify(api_client, code).json()["code"] == "otp_locked"
    assert OtpChallenge.objects.get().attempts == 5


def test_an_unknown_phone_and_a_wrong_code_look_alike(api_client, otp_outbox):
    request_code(api_client)
    known = verify(api_client, wrong(code_from(otp_outbox[0])))
    unknown = verify(api_client, "123456", phone="010 999 888")
    assert known.status_code == unknown.status_code == 400
    assert known.json() == unknown.json()  # same code, message and attempts left
    for _ in range(4):
        verify(api_client, "123456", phone="010 999 888")
    assert verify(api_client, "123456", phone="010 999 888").json()["code"] == "otp_locked"


def test_a_new_code_replaces_the_old_one(api_client, otp_outbox, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 1
    request_code(api_client)
    first = code_from(otp_outbox[0])
    _fresh(otp_outbox)
    request_code(api_client)
    second = code_from(otp_outbox[1])
    if first != second:
        assert verify(api_client, first).json()["code"] == "otp_invalid"
    assert verify(api_client, second).status_code == 200


def test_resend_cooldown(api_client, otp_outbox):
    assert request_code(api_client).status_code == 202
    response = request_code(api_client)
    assert response.status_code == 429
    assert response.json()["code"] == "otp_resend_too_soon"
    assert 1 <= int(response["Retry-After"]) <= 61
    assert len(otp_outbox) == 1


def test_rate_limit_per_phone(api_client, otp_outbox, settings):
    settings.OTP_RATE_PER_PHONE = "2/h"
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    codes = [request_code(api_client).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    limited = request_code(api_client)
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) > 0
    # Another phone is not affected.
    assert request_code(api_client, phone="010 123 456").status_code == 202


def test_rate_limit_per_ip(api_client, otp_outbox, settings):
    settings.OTP_RATE_PER_IP = "2/h"
    phones = ["010 123 451", "010 123 452", "010 123 453"]
    statuses = [request_code(api_client, phone=phone, REMOTE_ADDR="198.51.100.7").status_code for phone in phones]
    assert statuses == [202, 202, 429]
    assert request_code(api_client, phone="010 123 454", REMOTE_ADDR="198.51.100.8").status_code == 202


def test_bad_phone_gets_its_code(api_client, otp_outbox):
    response = request_code(api_client, phone="023 756 789")
    assert response.status_code == 400 and response.json()["code"] == "phone_not_mobile"
    assert otp_outbox == []


def test_malformed_code_is_a_validation_error(api_client):
    response = verify(api_client, "12ab")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert "code" in response.json()["details"]["fields"]
