from django.urls import path

from apps.accounts.api import privacy, views

urlpatterns = [
    path("auth/otp/request", views.OtpRequestView.as_view(), name="otp-request"),
    path("auth/otp/verify", views.OtpVerifyView.as_view(), name="otp-verify"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("auth/sessions", views.SessionListView.as_view(), name="sessions"),
    path("auth/sessions/revoke-all", views.SessionRevokeAllView.as_view(), name="sessions-revoke-all"),
    path("auth/sessions/<id:session_id>", views.SessionDetailView.as_view(), name="session-detail"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/export", privacy.ExportView.as_view(), name="me-export"),
    path("me/erasure", privacy.ErasureView.as_view(), name="me-erasure"),
    path("me/did/challenge", views.DidChallengeView.as_view(), name="did-challenge"),
    path("me/did", views.DidBindView.as_view(), name="did-bind"),
    path("me/wallet/challenge", views.WalletChallengeView.as_view(), name="wallet-challenge"),
    path("me/wallet", views.WalletView.as_view(), name="wallet"),
    path("clients", views.ClientListView.as_view(), name="clients"),
    path("clients/<id:client_id>", views.ClientDetailView.as_view(), name="client-detail"),
    path("clients/<id:client_id>/application", views.ClientApplicationView.as_view(), name="client-application"),
    path(
        "clients/<id:client_id>/application/submit",
        views.ClientApplicationSubmitView.as_view(),
        name="client-application-submit",
    ),
    path("clients/<id:client_id>/api-keys", views.ApiKeyListView.as_view(), name="api-keys"),
    path("clients/<id:client_id>/api-keys/<id:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
