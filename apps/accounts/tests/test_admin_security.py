"""Admin login: locked out after repeated failures (django-axes), and a TOTP second factor for staff when
ADMIN_OTP_REQUIRED (django-otp; on in production settings, off in development and tests)."""

import logging

import pytest
from axes.models import AccessAttempt, AccessLog
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import User
from apps.audit.models import AuditLog
from apps.audit.redaction import spellings
from apps.core.crypto import blind_index
from apps.core.tests.database_scan import find_in_database

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "a-strong-password"


@pytest.fixture
def staff():
    return User.objects.create_superuser("+85512000001", PASSWORD)


def log_in(client, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": "012 000 001", "password": password, **extra})


def test_a_right_password_signs_in_without_a_second_factor_when_it_is_off(client, staff):
    assert log_in(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_repeated_failures_lock_the_login_out_even_with_the_right_password(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, password="wrong").status_code == 200  # the form again, with its error
    assert log_in(client, password="wrong").status_code == 429
    assert log_in(client).status_code == 429  # locked: the right password does not help now
    assert client.get("/admin/").status_code == 302  # not signed in


def test_failures_count_by_the_number_however_it_is_typed(client, staff, settings):
    for typed in ["012 000 001", "+855 12 000 001", "85512000001", "012000001"][: settings.AXES_FAILURE_LIMIT - 1]:
        client.post(LOGIN, {"username": typed, "password": "wrong"})
    assert log_in(client, password="wrong").status_code == 429


def test_the_login_name_is_kept_nowhere_in_plain_text(client, staff):
    """A staff member's login name is their phone number: failed attempts are counted under its keyed hash, and a
    successful login is audited by the user's id, not logged by name."""
    log_in(client, password="wrong")
    log_in(client, password="wrong", username="not a number 012 999")
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {
        blind_index("+85512000001"),
        blind_index("not a number 012 999"),
    }
    assert log_in(client).status_code == 302
    assert not AccessLog.objects.exists()
    assert AuditLog.objects.filter(action="staff.signed_in", target_id=str(staff.pk)).count() == 1
    assert find_in_database(*spellings("+85512000001"), "012 999", decrypt=False) == []


def test_the_login_name_is_in_no_log_line(client, staff, caplog):
    """django-axes logs every failure, lock-out and successful login with a description of the client; the login
    name (a staff member's phone number) must not be in it, in any spelling."""
    caplog.set_level(logging.DEBUG)
    log_in(client, password="wrong")
    assert log_in(client).status_code == 302
    assert any(record.name.startswith("axes") for record in caplog.records)  # it did log
    for spelling in [*spellings("+85512000001"), "012 000 001"]:
        assert spelling not in caplog.text


def test_only_a_staff_members_sign_in_through_the_login_form_is_audited(client, staff, db):
    User.objects.create_user("+85512000002", PASSWORD)
    client.post(LOGIN, {"username": "012 000 002", "password": PASSWORD})  # not staff: the form refuses it
    client.force_login(staff)  # a session made by code
    assert not AuditLog.objects.filter(action="staff.signed_in").exists()
    assert log_in(client).status_code == 302
    assert AuditLog.objects.filter(action="staff.signed_in").count() == 1


def test_fewer_failures_than_the_limit_do_not_lock(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, password="wrong")
    assert log_in(client).status_code == 302


def test_the_production_settings_require_a_second_factor():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "peerpower/settings/production.py").read_text()
    assert 'ADMIN_OTP_REQUIRED = env.bool("ADMIN_OTP_REQUIRED", default=True)' in text


class TestSecondFactor:
    @pytest.fixture(autouse=True)
    def _required(self, settings):
        settings.ADMIN_OTP_REQUIRED = True

    @pytest.fixture
    def device(self, staff):
        return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)

    def test_the_password_alone_is_not_enough(self, client, staff, device):
        response = log_in(client)
        assert response.status_code == 200 and b"otp_token" in response.content
        assert client.get("/admin/").status_code == 302

    def test_a_wrong_code_is_refused(self, client, staff, device):
        assert log_in(client, otp_device=device.persistent_id, otp_token="000000").status_code == 200
        assert client.get("/admin/").status_code == 302

    def test_password_and_the_current_code_sign_in(self, client, staff, device):
        code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        response = log_in(client, otp_device=device.persistent_id, otp_token=code)
        assert response.status_code == 302, response.content[:2000]
        assert client.get("/admin/").status_code == 200

    def test_a_session_without_a_verified_device_is_not_let_in(self, client, staff):
        client.force_login(staff)
        assert client.get("/admin/").status_code == 302
