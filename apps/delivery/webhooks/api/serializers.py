"""Webhook API shapes."""

from rest_framework import serializers

from apps.core.serializer_fields import StrictBooleanField, StrictCharField, StrictURLField
from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.models import WebhookCallbackSecret, WebhookEndpoint


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = StrictURLField(max_length=500, help_text="Where events are POSTed; https in production.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        min_length=1,
        required=False,
        help_text="The event types to receive; all of them when left out.",
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    active = StrictBooleanField(required=False, help_text="Your own switch: false stops deliveries.")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEventType.choices))
    failure_streak = serializers.IntegerField(
        source="consecutive_failures", help_text="Failed attempts since the last successful one."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "active",
            "disabled_at",
            "disabled_reason",
            "failure_streak",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "disabled_at": {"help_text": "Set when we stopped sending because the endpoint kept failing."},
        }


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """An endpoint with the secret that verifies its signatures (and, after a rotation, until when the previous
    secret also signs)."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret", "previous_secret_expires_at"]


class WebhookCallbackSecretSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookCallbackSecret
        fields = ["secret", "previous_secret_expires_at", "created_at", "rotated_at"]
