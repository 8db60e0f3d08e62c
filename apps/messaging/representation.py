"""A message as clients see it: the one outward representation, shared by the client API's answers and the webhook
payload (`apps.delivery.webhooks`), so the two never drift apart. Delivery uses it from here, not from `api/`."""

from rest_framework import serializers

from apps.messaging.models import Message


class MessageOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "status",
            "status_reason",
            "to",
            "carrier",
            "encoding",
            "segments",
            "priority",
            "reference",
            "created_at",
            "scheduled_at",
            "expires_at",
            "sent_at",
            "delivered_at",
        ]


def message_output(message: Message) -> dict:
    """`MessageOutputSerializer(message).data`, from one serializer built once: a ModelSerializer works out its
    fields from the model every time it is instantiated, which cost more than the rest of the answer on the send
    path. `to_representation` keeps no state between calls, so one instance serves every request."""
    return _MESSAGE_OUTPUT.to_representation(message)


_MESSAGE_OUTPUT = MessageOutputSerializer()
