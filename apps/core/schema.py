"""The OpenAPI schema's view of what every operation shares: its errors.

drf-spectacular documents only the answers a view declares (its 2xx); the errors every view can give (validation,
authentication, permissions, not found, rate limits, oversized or over-deep bodies) leave in one shape from one
exception handler (apps.core.api), so each operation documents them once, as its `default` response.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

NO_NUL_PATTERN = r"^[^\u0000]*$"


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable: branch on this (`validation_error`…).")
    message = serializers.CharField(help_text="For people, in the request's language (Khmer or English).")
    details = serializers.DictField(
        help_text="What to fix. Validation errors: `fields.<name>[] = {message, code, details?}`; rate limits: "
        "`retry_after`."
    )


class AutoSchema(SpectacularAutoSchema):
    """REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]: drf-spectacular's, with the error shape as every operation's
    `default` response (any status an operation does not list is an error in that shape)."""

    def _map_basic_serializer(self, serializer: serializers.Serializer, direction: str) -> dict:
        """Rules the code enforces that drf-spectacular leaves out of request bodies: DRF's CharField refuses NUL
        (null_characters_not_allowed; PostgreSQL cannot store it) and a list of nested objects built with
        `allow_empty=False` refuses `[]`."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        for name, field in serializer.fields.items():
            property_schema = schema.get("properties", {}).get(name)
            if field.read_only or not property_schema:
                continue
            if (
                isinstance(field, serializers.CharField)
                and property_schema.get("type") == "string"
                and not {"pattern", "enum"} & set(property_schema)
            ):
                property_schema["pattern"] = NO_NUL_PATTERN
            if isinstance(field, serializers.ListSerializer) and not field.allow_empty:
                property_schema["minItems"] = max(property_schema.get("minItems", 0), 1)
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            responses.setdefault("default", self._get_response_for_code(ErrorOutput, "default", direction=direction))
        return responses
