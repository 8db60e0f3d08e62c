"""The custom user model and its manager: identified by E.164 phone number."""

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError
from django.test import RequestFactory

from apps.accounts.models import User
from apps.accounts.phone import PhoneInvalid

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["012 345 678", "+855 12 345 678", "85512345678", "0 12-345-678"])
def test_create_user_normalises_what_people_type(typed):
    user = User.objects.create_user(typed)
    assert user.phone == "+85512345678"
    assert user.preferred_language == "km"
    assert user.reputation_score == 500
    assert not user.is_staff and not user.is_superuser
    assert not user.has_usable_password()  # phone-OTP users have no password


def test_phone_is_unique_whatever_the_spelling():
    User.objects.create_user("012 345 678")
    with pytest.raises(IntegrityError):
        User.objects.create_user("+855 12 345 678")


def test_invalid_phone_is_refused_with_its_code():
    with pytest.raises(PhoneInvalid) as error:
        User.objects.create_user("12345")
    assert error.value.code == "phone_invalid"


def test_create_superuser_needs_a_password_and_can_log_in_by_typed_number():
    with pytest.raises(ValueError, match="password"):
        User.objects.create_superuser("+85512000001")
    admin = User.objects.create_superuser("+85512000001", "a-strong-password")
    assert admin.is_staff and admin.is_superuser
    # The admin login passes its request (django-axes counts failures per number and address).
    login = RequestFactory().post("/admin/login/")
    assert authenticate(login, username="012 000 001", password="a-strong-password") == admin
    assert authenticate(login, username="012 000 001", password="wrong") is None


def test_did_and_evm_address_are_unique_but_optional():
    User.objects.create_user("+85512345678")
    User.objects.create_user("+85512345679")  # two users without DID or address
    User.objects.filter(phone="+85512345678").update(did="did:key:z6Mk1")
    with pytest.raises(IntegrityError):
        User.objects.filter(phone="+85512345679").update(did="did:key:z6Mk1")


def test_reputation_is_bounded_by_the_database():
    user = User.objects.create_user("+85512345678")
    with pytest.raises(IntegrityError):
        User.objects.filter(pk=user.pk).update(reputation_score=5000)


def test_demo_superuser_command_is_idempotent_and_refused_outside_development(settings):
    from django.core.management import CommandError, call_command

    call_command("ensure_demo_superuser")
    call_command("ensure_demo_superuser")
    assert User.objects.filter(is_superuser=True).count() == 1
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError):
        call_command("ensure_demo_superuser")
