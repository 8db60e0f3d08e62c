from django.urls import path

from apps.delivery.webhooks.api import views

urlpatterns = [
    path("webhooks", views.WebhookEndpointListView.as_view(), name="webhooks"),
    path("webhooks/callback-secret", views.WebhookCallbackSecretView.as_view(), name="webhook-callback-secret"),
    path(
        "webhooks/callback-secret/rotate",
        views.WebhookCallbackSecretRotateView.as_view(),
        name="webhook-callback-secret-rotate",
    ),
    path("webhooks/<id:endpoint_id>", views.WebhookEndpointDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<id:endpoint_id>/rotate-secret",
        views.WebhookEndpointRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
]
