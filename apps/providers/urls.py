from django.urls import path

from apps.providers import views

urlpatterns = [
    path("providers/register", views.RegisterView.as_view(), name="providers-register"),
    path("providers/me", views.MeView.as_view(), name="providers-me"),
    path("providers/me/sims", views.SimListView.as_view(), name="providers-sims"),
    path("providers/me/sims/<id:sim_id>", views.SimDetailView.as_view(), name="providers-sim"),
    path(
        "providers/me/sims/<id:sim_id>/verification",
        views.SimVerificationView.as_view(),
        name="providers-sim-verification",
    ),
    path("providers/me/sims/<id:sim_id>/verify", views.SimVerifyView.as_view(), name="providers-sim-verify"),
    path("providers/me/devices", views.DeviceView.as_view(), name="providers-devices"),
    path("providers/me/heartbeat", views.HeartbeatView.as_view(), name="providers-heartbeat"),
]
