from django.urls import path, re_path

from apps.payments.api import documents, views

urlpatterns = [
    path("billing/topups", views.TopUpListView.as_view(), name="billing-topups"),
    path("billing/topups/<str:public_id>", views.TopUpDetailView.as_view(), name="billing-topup"),
    path("billing/receipts", documents.ReceiptListView.as_view(), name="billing-receipts"),
    # A file suffix (`.pdf`, `.html`, `.json`) is the same as `?format=`; the plain path answers JSON by default.
    re_path(
        r"^billing/receipts/(?P<number>[A-Za-z0-9-]+)\.(?P<format>pdf|html|json)$",
        documents.ReceiptFileView.as_view(),
        name="billing-receipt-file",
    ),
    path("billing/receipts/<str:number>", documents.ReceiptDetailView.as_view(), name="billing-receipt"),
    path("billing/usage", documents.UsageView.as_view(), name="billing-usage"),
    re_path(
        r"^billing/statements/(?P<month>[0-9-]+)\.(?P<format>pdf|csv|json)$",
        documents.StatementFileView.as_view(),
        name="billing-statement-file",
    ),
    path("billing/statements/<str:month>", documents.StatementView.as_view(), name="billing-statement"),
    path("billing/baray/webhook", views.BarayWebhookView.as_view(), name="billing-baray-webhook"),
]
