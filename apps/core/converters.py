"""URL path converters for the API's identifiers."""

from django.urls import register_converter

# The largest id a bigint column holds. An id past it is not one of ours: the path converter makes it a 404 and
# serializers refuse it (400), where the database would raise an overflow (a 500).
DATABASE_ID_MAX = 2**63 - 1


class DatabaseIdConverter:
    """`<id:name>`: a row id, 1 to 18 digits (Django's `<int:>` accepts any length, and a 20-digit id overflowed the
    database query into a 500). The schema states the same range (SPECTACULAR_SETTINGS PATH_CONVERTER_OVERRIDES)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class CodeConverter:
    """`<code:name>`: a short code people type from an SMS (a verification code): letters, digits and spaces, at
    most 32 characters. Anything else cannot be one of ours and is a 404 before any query runs."""

    regex = "[A-Za-z0-9 ]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def register() -> None:
    register_converter(DatabaseIdConverter, "id")
    register_converter(CodeConverter, "code")
