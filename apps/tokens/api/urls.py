from django.urls import path

from apps.tokens.api import views

urlpatterns = [
    path("wallet", views.WalletView.as_view(), name="ledger-wallet"),
    path("wallet/transactions", views.WalletTransactionsView.as_view(), name="ledger-wallet-transactions"),
]
