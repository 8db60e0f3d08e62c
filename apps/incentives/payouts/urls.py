from django.urls import path, re_path

from apps.incentives.payouts import api

urlpatterns = [
    path("payouts", api.PayoutListView.as_view(), name="payouts"),
    path("payouts/limits", api.PayoutLimitsView.as_view(), name="payouts-limits"),
    path("payouts/accounts", api.PayoutAccountListView.as_view(), name="payouts-accounts"),
    re_path(r"^payouts/callbacks/(?P<method>airtime|cash)$", api.PayoutCallbackView.as_view(), name="payouts-callback"),
    re_path(r"^payouts/(?P<public_id>po_[0-9a-f]{24})$", api.PayoutDetailView.as_view(), name="payout"),
]
