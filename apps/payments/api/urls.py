from django.urls import path

from apps.payments.api import views

urlpatterns = [
    path("billing/topups", views.TopUpListView.as_view(), name="billing-topups"),
    path("billing/topups/<str:public_id>", views.TopUpDetailView.as_view(), name="billing-topup"),
    path("billing/baray/webhook", views.BarayWebhookView.as_view(), name="billing-baray-webhook"),
]
