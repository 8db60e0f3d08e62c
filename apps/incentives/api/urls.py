from django.urls import path

from apps.incentives.api import earnings, leaderboard, score, views

urlpatterns = [
    path("billing/prices", views.PriceListView.as_view(), name="billing-prices"),
    path("incentives/earnings", earnings.EarningsView.as_view(), name="incentives-earnings"),
    path("incentives/rewards", earnings.RewardListView.as_view(), name="incentives-rewards"),
    path("incentives/multipliers", earnings.MultiplierListView.as_view(), name="incentives-multipliers"),
    path("incentives/leaderboard", leaderboard.LeaderboardView.as_view(), name="incentives-leaderboard"),
    path("providers/me/score", score.ScoreView.as_view(), name="providers-me-score"),
]
