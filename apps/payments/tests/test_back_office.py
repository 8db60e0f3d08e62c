"""The back office: top-ups filtered by state, organisation and date, with their Baray exchanges (minus secrets) and a
link to the ledger's maker–checker for manual credits; exchange rates set by staff and frozen once used."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.payments.models import ExchangeRate, TopUp
from apps.payments.tests.conftest import notify
from apps.tokens.services import account_open


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_top_ups_are_listed_filtered_and_shown_with_their_exchanges(
    staff_client, client_api, organization, baray, rates
):
    created = client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()
    baray.pay(baray.intents[0].id, notify=False)
    notify(baray.webhook_body(created["id"]))
    changelist = reverse("admin:payments_topup_changelist")
    assert created["id"] in staff_client.get(f"{changelist}?status__exact=succeeded").text
    assert created["id"] not in staff_client.get(f"{changelist}?status__exact=failed").text
    assert created["id"] in staff_client.get(f"{changelist}?organization__id__exact={organization.pk}").text
    page = staff_client.get(reverse("admin:payments_topup_change", args=[TopUp.objects.get().pk])).text
    assert "create_intent" in page and "webhook" in page and "settled" in page
    assert "pk_dev_peerpower-test" not in page  # the API key is never recorded
    account = account_open(organization=organization)
    assert f"{reverse('admin:tokens_adjustment_add')}?account={account.pk}" in page


def test_staff_set_rates_and_a_used_rate_is_frozen(staff_client, client_api, baray, rates):
    added = staff_client.post(
        reverse("admin:payments_exchangerate_add"),
        {"currency": "USD", "ppt_per_unit": "41", "valid_from_0": "2026-01-01", "valid_from_1": "00:00:00"},
    )
    assert added.status_code == 302
    assert ExchangeRate.objects.filter(ppt_per_unit=41).get().created_by is not None
    client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json")
    used = TopUp.objects.get().rate
    page = staff_client.get(reverse("admin:payments_exchangerate_change", args=[used.pk])).text
    assert 'name="ppt_per_unit"' not in page
    assert staff_client.get(reverse("admin:payments_exchangerate_delete", args=[used.pk])).status_code == 403


def test_receipts_are_read_only_and_downloadable_by_staff(staff_client, client_api, baray, rates):
    from apps.payments.models import Receipt

    created = client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()
    baray.pay(baray.intents[0].id, notify=False)
    notify(baray.webhook_body(created["id"]))
    receipt = Receipt.objects.get()
    listing = staff_client.get(reverse("admin:payments_receipt_changelist") + "?currency__exact=USD").text
    assert receipt.number in listing
    pdf = staff_client.get(reverse("admin:payments_receipt_file", args=[receipt.pk, "km", "pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = staff_client.get(reverse("admin:payments_receipt_file", args=[receipt.pk, "en", "html"])).content.decode()
    assert receipt.number in html and "$10.00" in html
    page = staff_client.get(reverse("admin:payments_receipt_change", args=[receipt.pk])).text
    assert 'name="amount"' not in page
    assert staff_client.get(reverse("admin:payments_receipt_delete", args=[receipt.pk])).status_code == 403
    topup_page = staff_client.get(reverse("admin:payments_topup_change", args=[TopUp.objects.get().pk])).text
    assert reverse("admin:payments_receipt_change", args=[receipt.pk]) in topup_page


def test_a_refund_is_proposed_through_the_maker_checker_and_audited(
    staff_client, client_api, organization, baray, rates
):
    from apps.audit.models import AuditLog
    from apps.tokens.models import Adjustment
    from apps.tokens.selectors import account_balance
    from apps.tokens.services import adjustment_approve

    created = client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()
    baray.pay(baray.intents[0].id, notify=False)
    notify(baray.webhook_body(created["id"]))
    topup = TopUp.objects.get()
    changelist = reverse("admin:payments_topup_changelist")
    for _ in range(2):  # the second proposal of the same refund is refused
        staff_client.post(changelist, {"action": "refund", "_selected_action": [topup.pk]})
    adjustment = Adjustment.objects.get()
    assert adjustment.amount == -400_000_000 and adjustment.status == "proposed"
    assert adjustment.memo.startswith(f"refund of top-up {topup.public_id} (receipt PP-")
    assert AuditLog.objects.filter(action="payments.topup_refund_propose").count() == 1
    adjustment_approve(actor=UserFactory(is_staff=True), adjustment_id=adjustment.pk)
    assert account_balance(account_open(organization=organization)).available == 0
