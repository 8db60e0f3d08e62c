"""Serializer fields that take JSON types as the schema states them.

DRF's CharField also accepts a number (an API key named `5` became "5") and its BooleanField the strings "true",
"yes" or "1": requests the OpenAPI schema forbids were accepted. API input serializers use these instead.
"""

from typing import Any

from rest_framework import serializers
from rest_framework.utils import html


class StrictStringMixin:
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    """A JSON string (or a query-string value), never a number."""


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    """A JSON string matching a pattern the schema states (`pattern`). For tokens and versions: a plain CharField
    trims whitespace and then refuses a blank value, so a schema-valid "   " was refused. Not trimmed: the pattern
    alone judges the value, as the schema says."""

    def __init__(self, regex: str, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(regex, **kwargs)


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


class QueryParameterMixin:
    """An optional query parameter that is there or not: `?organization=` or `?status=` (empty) is refused as the
    schema says (not an integer, not one of the choices), where DRF takes an empty optional value in query or form
    data as left out."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class QueryIntegerField(QueryParameterMixin, serializers.IntegerField):
    pass


class QueryChoiceField(QueryParameterMixin, serializers.ChoiceField):
    pass
