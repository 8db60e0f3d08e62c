"""Providers' own numbers at rest: users' phones, sign-in codes' phones, SIM numbers and airtime payouts' numbers are
encrypted in the database, plain to the code, found by equality through their keyed hash (sign-in, SIM ownership,
the admin's search), and re-encrypted by `encryption_rotate`."""

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import OtpChallenge, User
from apps.core import crypto
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows, reencrypt_batches
from apps.core.tests.database_scan import find_in_database
from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.tests.conftest import PPT
from apps.providers.models import Provider, Sim

pytestmark = pytest.mark.django_db

NEW_KEY = "k2=bmV3LXRlc3Qta2V5LWZvci1yb3RhdGlvbi0wMDAwMDE="


def raw(table: str, column: str, pk: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def payout(provider, rates):
    return services.payout_request(provider=provider, actor=provider.user, method="airtime", amount=10 * PPT)


def _numbers(provider: Provider) -> list[str]:
    return [provider.user.phone, *provider.sims.values_list("msisdn", flat=True)]


def test_numbers_are_stored_encrypted_and_read_plain(provider, payout):
    sim = provider.sims.filter(verified_at__isnull=False).get()
    for table, column, pk, plain in [
        ("accounts_user", "phone", provider.user.pk, provider.user.phone),
        ("providers_sim", "msisdn", sim.pk, sim.msisdn),
        ("incentives_payout", "msisdn", payout.pk, sim.msisdn),
    ]:
        stored = raw(table, column, pk)
        assert stored.startswith("pp1.test1.") and plain[4:] not in stored, (table, column)
        assert raw(table, f"{column}_hash", pk) == crypto.blind_index(plain)
    assert Payout.objects.get(pk=payout.pk).msisdn == sim.msisdn


def test_no_table_holds_a_providers_number_in_plain_text(provider, payout):
    APIClient().post("/api/auth/otp/request", {"phone": provider.user.phone}, format="json")
    assert OtpChallenge.objects.filter(phone=provider.user.phone).exists()
    # The audit log included: it holds numbers as their keyed hashes (apps.audit.pseudonyms).
    assert find_in_database(*_numbers(provider), decrypt=False) == []
    assert set(find_in_database(*_numbers(provider))) >= {
        "accounts_user.phone", "accounts_otpchallenge.phone", "providers_sim.msisdn", "incentives_payout.msisdn"
    }  # fmt: skip


def test_equality_lookups_go_through_the_keyed_hash(provider):
    user, sim = provider.user, provider.sims.first()
    assert User.objects.get(phone=user.phone) == user
    assert User.objects.get_by_natural_key(user.phone) == user  # Django's own lookup of the username
    assert Provider.objects.filter(user__phone=user.phone).get() == provider
    assert set(Sim.objects.filter(msisdn__in=[sim.msisdn, "+85599999999"])) == {sim}
    assert not User.objects.filter(phone="+85599999999").exists()
    with pytest.raises(FieldError, match="blind index"):
        User.objects.filter(phone__startswith="+855").exists()
    with pytest.raises(FieldError, match="blind index"):
        Sim.objects.filter(msisdn__icontains="555").exists()


@pytest.mark.django_db(transaction=True)  # codes are sent when the transaction commits
def test_sign_in_finds_the_existing_account_by_its_number(otp_outbox):
    from apps.accounts.tests.factories import UserFactory
    from apps.accounts.tests.helpers import sign_in

    user = UserFactory(phone="+85512345678")
    body = sign_in(APIClient(), otp_outbox, phone="012 345 678")
    assert body["user"]["id"] == user.pk
    assert User.objects.count() == 1  # the existing account, not a new one


def test_staff_find_users_sims_and_payouts_by_the_number_as_people_write_it(provider, payout, client):
    from apps.accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    sim = provider.sims.filter(verified_at__isnull=False).get()
    national = "0" + sim.msisdn[4:7] + " " + sim.msisdn[7:]
    for url, typed, expected in [
        ("/admin/accounts/user/", "0" + provider.user.phone[4:], provider.user.pk),
        ("/admin/providers/provider/", national, provider.pk),
        ("/admin/incentives/payout/", national, payout.pk),
        ("/admin/incentives/payout/", provider.user.phone, payout.pk),
    ]:
        page = client.get(url, {"q": typed})
        assert page.status_code == 200, url
        assert [row.pk for row in page.context["cl"].result_list] == [expected], (url, typed)
        assert client.get(url, {"q": "+85599999999"}).context["cl"].result_list.count() == 0


def test_rotation_covers_the_numbers(provider, payout, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    for model in (User, Sim, Payout):
        assert sum(reencrypt_batches(model, batch_size=1)) >= 1, model
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key removed: everything still reads
    assert crypto.key_id_of(raw("accounts_user", "phone", provider.user.pk)) == "k2"
    assert User.objects.get(phone=provider.user.phone) == provider.user
    assert Payout.objects.get(pk=payout.pk).msisdn == provider.sims.get(verified_at__isnull=False).msisdn


def test_the_migrations_conversion_goes_both_ways(provider):
    from django.apps import apps

    sim = provider.sims.first()
    decrypt_existing_rows("providers", "Sim")(apps, None)
    assert raw("providers_sim", "msisdn", sim.pk) == sim.msisdn  # plain text again (the migration unapplied)
    encrypt_existing_rows("providers", "Sim")(apps, None)
    assert raw("providers_sim", "msisdn", sim.pk).startswith("pp1.")
    assert Sim.objects.get(msisdn=sim.msisdn) == sim
