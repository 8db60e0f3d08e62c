from django.urls import path

from apps.tokens.api import views

urlpatterns = [
    path("wallet", views.WalletView.as_view(), name="ledger-wallet"),
    path("wallet/transactions", views.WalletTransactionsView.as_view(), name="ledger-wallet-transactions"),
    path("wallet/withdrawals", views.WithdrawalListView.as_view(), name="wallet-withdrawals"),
    path("wallet/withdrawals/<str:public_id>", views.WithdrawalDetailView.as_view(), name="wallet-withdrawal"),
]
