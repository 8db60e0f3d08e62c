"""Receipts: one per paid top-up, issued with its PPT, numbered per year without gaps, never changed, downloadable as
JSON, HTML and PDF in Khmer and English."""

import io
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from pypdf import PdfReader

from apps.payments.models import Receipt, ReceiptImmutable
from apps.payments.tests.conftest import key_client, notify


def paid_topup(client_api, baray, amount: str = "40000", currency: str = "KHR") -> str:
    created = client_api.post("/api/billing/topups", {"amount": amount, "currency": currency}, format="json").json()
    baray.pay(baray.intents[-1].id, notify=False)
    assert notify(baray.webhook_body(created["id"])).json()["outcome"] == "settled"
    return created["id"]


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_each_paid_top_up_gets_the_next_number_of_its_year(client_api, baray, rates):
    first, second = paid_topup(client_api, baray), paid_topup(client_api, baray, "10", "USD")
    year = datetime.now(UTC).year
    receipts = {receipt.topup.public_id: receipt.number for receipt in Receipt.objects.select_related("topup")}
    assert receipts == {first: f"PP-{year}-000001", second: f"PP-{year}-000002"}
    listed = client_api.get("/api/billing/receipts").json()["results"]
    assert [receipt["number"] for receipt in listed] == [f"PP-{year}-000002", f"PP-{year}-000001"]
    assert listed[1]["amount"] == {"amount": 40000, "decimal": "40000"} and listed[1]["amount_text"] == "៛40,000"
    assert listed[1]["ppt"]["amount"] == 400_000_000 and listed[1]["transfer_id"] == f"topup:{first}"


def test_a_replayed_webhook_issues_no_second_receipt(client_api, baray, rates):
    topup = paid_topup(client_api, baray)
    assert notify(baray.webhook_body(topup)).json()["outcome"] == "replayed"
    assert Receipt.objects.count() == 1


def test_an_unpaid_or_failed_top_up_has_no_receipt(client_api, baray, rates):
    created = client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()
    baray.fail(baray.intents[0].id, notify=False)
    notify(baray.webhook_body(created["id"]))
    assert not Receipt.objects.exists()


def test_receipts_render_in_khmer_and_english(client_api, baray, rates):
    paid_topup(client_api, baray)
    number = Receipt.objects.get().number
    khmer = client_api.get(f"/api/billing/receipts/{number}.html?lang=km")
    assert khmer.status_code == 200 and khmer["Content-Type"].startswith("text/html")
    assert "៛40,000" in khmer.content.decode() and "បង្កាន់ដៃ" in khmer.content.decode()
    english = client_api.get(f"/api/billing/receipts/{number}?format=html", HTTP_ACCEPT_LANGUAGE="en")
    assert "40,000 riel" in english.content.decode() and "Receipt" in english.content.decode()
    default = client_api.get(f"/api/billing/receipts/{number}")
    assert default["Content-Type"] == "application/json" and default.json()["number"] == number


def test_the_pdf_carries_the_number_and_the_amount_in_an_embedded_khmer_font(client_api, baray, rates):
    paid_topup(client_api, baray, "10", "USD")
    number = Receipt.objects.get().number
    response = client_api.get(f"/api/billing/receipts/{number}.pdf?lang=km")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert number in text and "$10.00" in text and "400.000000 PPT" in text
    fonts = {
        font["/BaseFont"]
        for page in PdfReader(io.BytesIO(response.content)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("NotoSansKhmer" in name for name in fonts)
    english = pdf_text(client_api.get(f"/api/billing/receipts/{number}?format=pdf&lang=en").content)
    assert "Receipt" in english and "Amount paid" in english


def test_a_configured_tax_line_is_printed_and_included(client_api, baray, rates, settings):
    settings.RECEIPT_TAX_NAME, settings.RECEIPT_TAX_RATE_BP = "VAT", 1000
    paid_topup(client_api, baray, "11", "USD")
    receipt = Receipt.objects.get()
    assert (receipt.tax_name, receipt.tax_rate_bp, receipt.tax_amount) == ("VAT", 1000, 100)  # $1.00 of $11.00
    page = client_api.get(f"/api/billing/receipts/{receipt.number}.html?lang=en").content.decode()
    assert "of which VAT (10%)" in page and "$1.00" in page


def test_no_tax_line_by_default(client_api, baray, rates):
    paid_topup(client_api, baray, "11", "USD")
    receipt = Receipt.objects.get()
    assert receipt.tax_amount == 0 and receipt.tax_name == ""
    assert "of which" not in client_api.get(f"/api/billing/receipts/{receipt.number}.html?lang=en").content.decode()


def test_a_receipt_cannot_be_changed_or_deleted(client_api, baray, rates):
    paid_topup(client_api, baray)
    receipt = Receipt.objects.get()
    receipt.amount = 1
    with pytest.raises(ReceiptImmutable):
        receipt.save()
    with pytest.raises(ReceiptImmutable):
        receipt.delete()
    if connection.vendor == "postgresql":  # the database refuses it too, whatever the code does
        for statement in (Receipt.objects.filter(pk=receipt.pk).update, Receipt.objects.filter(pk=receipt.pk).delete):
            with pytest.raises(DatabaseError), transaction.atomic():
                statement(amount=1) if statement.__name__ == "update" else statement()
    assert Receipt.objects.get().amount == 40000


def test_another_clients_receipt_is_not_found_and_bad_language_is_refused(client_api, baray, rates):
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory

    paid_topup(client_api, baray)
    number = Receipt.objects.get().number
    stranger = key_client(client_create(user=UserFactory(), name="Other"))
    for path in (f"/api/billing/receipts/{number}", f"/api/billing/receipts/{number}.pdf"):
        response = stranger.get(path)
        assert response.status_code == 404 and response.json()["code"] == "receipt_not_found"
    assert stranger.get("/api/billing/receipts").json()["results"] == []
    refused = client_api.get(f"/api/billing/receipts/{number}.pdf?lang=fr")
    assert refused.status_code == 400 and refused.json()["code"] == "language_unsupported"
