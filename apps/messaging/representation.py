"""A message as clients see it: the one outward representation, shared by the client API's answers and the webhook
payload (`apps.delivery.webhooks`), so the two never drift apart. Delivery uses it from here, not from `api/`."""

from typing import Any

from rest_framework import serializers

from apps.messaging.models import Message


class MessageOutputSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField(
        help_text="What the message costs, in 10⁻⁶ PPT: the per-segment price held (the dearest route it could take), "
        "its segments, the total held at accept, what delivery captured (null until delivered; the rest of the hold "
        "is released, all of it when the message does not reach `delivered`), and the quote on each route."
    )

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
            "price",
        ]

    def get_price(self, message: Message) -> dict[str, Any]:
        return {
            "per_segment": message.price_held // message.segments,
            "segments": message.segments,
            "held": message.price_held,
            "charged": message.price_charged,
            "on_net": message.price_on_net,
            "cross_carrier": message.price_cross_carrier,
        }


def message_output(message: Message) -> dict:
    """`MessageOutputSerializer(message).data`, from one serializer built once: a ModelSerializer works out its
    fields from the model every time it is instantiated, which cost more than the rest of the answer on the send
    path. `to_representation` keeps no state between calls, so one instance serves every request."""
    return _MESSAGE_OUTPUT.to_representation(message)


_MESSAGE_OUTPUT = MessageOutputSerializer()
