"""Serializer fields that take JSON types as the schema states them.

DRF's CharField also accepts a number (an API key named `5` became "5") and its BooleanField the strings "true",
"yes" or "1": requests the OpenAPI schema forbids were accepted. API input serializers use these instead.
"""

from typing import Any

from rest_framework import serializers


class StrictStringMixin:
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    """A JSON string (or a query-string value), never a number."""


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class StrictURLField(StrictStringMixin, serializers.URLField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false`, never "true", "yes" or 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
