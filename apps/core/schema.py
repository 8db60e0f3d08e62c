"""The OpenAPI schema's view of what every operation shares: its errors.

drf-spectacular documents only the answers a view declares (its 2xx). Every error leaves in one shape from one
exception handler (apps.core.api), so the schema derives each operation's error responses from the code:

- the domain errors a view method declares with `@raises(...)` (each class carries its status, stable code and
  default message, which says when it happens);
- the errors its configuration implies: 401 from its authentication classes (each lists the errors it raises in
  `schema_errors`), 403 when a permission is required, 404 for a path parameter, 400/413/415 for a JSON body, 400
  for query parameters;

grouped per status, each status listing its codes and when, with an example of each. Any other status is an error
in the same shape: the operation's `default` response.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.utils import translation
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from apps.core.errors import DomainError, RateLimited
from apps.core.throttling import scope_rate

NO_NUL_PATTERN = r"^[^\u0000]*$"


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable: branch on this (`validation_error`…).")
    message = serializers.CharField(help_text="For people, in the request's language (Khmer or English).")
    details = serializers.DictField(
        help_text="What to fix. Validation errors: `fields.<name>[] = {message, code, details?}`; rate limits: "
        "`retry_after`."
    )


@dataclass(frozen=True)
class ErrorCase:
    """One documented error answer: its status, stable code, when it happens, and for its example the message the
    client reads (by default the `when`) and its `details`."""

    status: int
    code: str
    when: str
    details: dict[str, Any] | None = None
    message: str | None = None

    @classmethod
    def of(cls, error: "type[DomainError] | ErrorCase | tuple[type[DomainError], str]") -> "ErrorCase":
        """A domain error class (its default message says when), or `(class, "when")` to say more."""
        if isinstance(error, ErrorCase):
            return error
        error, when = error if isinstance(error, tuple) else (error, None)
        with translation.override("en"):
            message = str(error.default_message)
        details = {"retry_after": 30} if issubclass(error, RateLimited) else None
        return cls(error.status_code, error.code, when or message, details, message)


ErrorSpec = type[DomainError] | ErrorCase | tuple[type[DomainError], str]
ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Any])

# The errors an operation's shape implies (DRF's, and the request-level guards in apps.core). Codes are the ones
# apps.core.api gives them.
VALIDATION = ErrorCase(
    400,
    "validation_error",
    "A field is missing or wrong; `details.fields.<name>[]` lists each mistake as `{code, message}`.",
    {"fields": {"field_name": [{"message": "This field is required.", "code": "required"}]}},
    "Invalid input.",
)
MALFORMED = ErrorCase(
    400, "malformed_request", "The body is not valid JSON.", {"reason": "JSON parse error"}, "Malformed request body."
)
JSON_TOO_DEEP = ErrorCase(400, "json_too_deep", "The body nests arrays or objects more than 32 levels deep.")
TOO_LARGE = ErrorCase(413, "request_too_large", "The body is larger than the limit (5 MB by default).")
MEDIA_TYPE = ErrorCase(415, "unsupported_media_type", "The body is not sent as `Content-Type: application/json`.")
NOT_AUTHENTICATED = ErrorCase(401, "not_authenticated", "No credentials were sent.")
PERMISSION = ErrorCase(403, "permission_denied", "The credentials are valid but not the kind this operation takes.")
NOT_FOUND = ErrorCase(404, "not_found", "No such object among those the caller may see (or the id is malformed).")
LIMIT_INVALID = ErrorCase(400, "limit_invalid", "`limit` is not a whole number from 1 to 200.")
THROTTLED = ErrorCase(
    429,
    "rate_limited",
    "Too many requests to this endpoint (API_RATE_LIMITS, docs/rate-limits.md); wait `Retry-After` seconds.",
    details={"retry_after": 30},
)
CURSOR_INVALID = ErrorCase(404, "not_found", "`cursor` is not one this list gave (`details.reason`: Invalid cursor).")


def raises(*errors: ErrorSpec) -> Callable[[ViewMethod], ViewMethod]:
    """Declare the domain errors a view method can raise; the schema documents each under its status.

    @raises(BodyEmpty, RecipientOptedOut, (DailyQuotaExceeded, "The key's daily quota is used up."))
    @extend_schema(...)
    def post(self, request): ...
    """

    def decorate(method: ViewMethod) -> ViewMethod:
        method.schema_errors = (*getattr(method, "schema_errors", ()), *map(ErrorCase.of, errors))  # type: ignore[attr-defined]
        return method

    return decorate


def error_responses(cases: Iterable[ErrorCase]) -> dict[int, OpenApiResponse]:
    """One response per status: its description lists each code and when, with one example per code."""
    by_status: dict[int, dict[str, ErrorCase]] = defaultdict(dict)
    for case in cases:
        by_status[case.status].setdefault(case.code, case)
    responses = {}
    for status, by_code in sorted(by_status.items()):
        lines = [f"- `{case.code}`: {case.when}" for case in by_code.values()]
        examples = [
            OpenApiExample(
                case.code,
                value={"code": case.code, "message": case.message or case.when, "details": case.details or {}},
                status_codes=[str(status)],
                response_only=True,
            )
            for case in by_code.values()
        ]
        responses[status] = OpenApiResponse(ErrorOutput, description="\n".join(lines), examples=examples)
    return responses


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
            for status, response in error_responses(self.error_cases()).items():
                responses.setdefault(
                    str(status), self._get_response_for_code(response, str(status), direction=direction)
                )
            other = OpenApiResponse(ErrorOutput, description="Any other error, in the same shape (docs/errors.md).")
            responses.setdefault("default", self._get_response_for_code(other, "default", direction=direction))
        return responses

    def error_cases(self) -> list[ErrorCase]:
        """What this operation can answer with an error: what its shape implies, then what its method declares."""
        cases: list[ErrorCase] = []
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        if has_body or self._get_query_parameters_declared():
            cases.append(VALIDATION)
        if has_body:
            cases += [MALFORMED, JSON_TOO_DEEP, TOO_LARGE, MEDIA_TYPE]
        authenticators = self.view.get_authenticators()
        public = all(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
        if authenticators and not public:
            cases.append(NOT_AUTHENTICATED)
            for authenticator in authenticators:
                cases += map(ErrorCase.of, getattr(authenticator, "schema_errors", ()))
        if not public:
            cases.append(PERMISSION)
        if "{" in self.path:
            cases.append(NOT_FOUND)
        if self._is_list_view() and self._get_paginator() is not None:
            cases += [LIMIT_INVALID, CURSOR_INVALID]
        if scope_rate(self.view):
            cases.append(THROTTLED)
        # What the method declares comes first: its wording of a code wins over the generic one.
        handler = getattr(self.view, self.method.lower(), None)
        return [*getattr(handler, "schema_errors", ()), *cases]

    def _get_query_parameters_declared(self) -> bool:
        return any(
            not isinstance(parameter, OpenApiParameter) or parameter.location == OpenApiParameter.QUERY
            for parameter in self.get_override_parameters()
        )


# Example values by property name, for the examples generated from the schema (`fill_examples`).
EXAMPLE_VALUES: dict[str, Any] = {
    "to": "+85512345678",
    "phone": "+85512345678",
    "body": "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ 482913",
    "url": "https://example.com/hooks/peerpower",
    "callback_url": "https://example.com/hooks/peerpower",
    "code": "482913",
    "reference": "order-1042",
    "name": "Angkor Coffee",
    "device_name": "Pixel 7",
    "province": "Phnom Penh",
    "carrier": "smart",
    "msisdn": "+85512345678",
    "mcc_mnc": "45602",
    "contact_phone": "+85512345678",
    "display_name": "Sokha",
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOjQyfQ.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOjQyLCJyIjoxfQ.c2lnbmF0dXJl",
    "prefix": "pp_live_3f9a",
    "did": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "evm_address": "0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
    "address": "0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
}
EXAMPLE_BY_FORMAT = {
    "date-time": "2026-01-15T09:30:00+07:00",
    "date": "2026-01-15",
    "uri": "https://example.com/hooks/peerpower",
    "email": "owner@example.com",
    "uuid": "7d6c3b1e-2f4a-4c1e-9a51-0f5b8e2d9c10",
    "decimal": "12.50",
}


def example_from_schema(schema: dict, components: dict, *, name: str = "", direction: str = "response") -> Any:
    """A plausible value of `schema`: its own example or first enum value, a value by property name or format, else
    one of its type. Read-only properties are left out of requests, write-only ones out of responses."""
    if "$ref" in schema:
        return example_from_schema(
            components[schema["$ref"].rsplit("/", 1)[-1]], components, name=name, direction=direction
        )
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            return example_from_schema(schema[combined][0], components, name=name, direction=direction)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return next((value for value in schema["enum"] if value not in ("", None)), schema["enum"][0])
    kind = schema.get("type", "object")
    if kind == "object":
        skip = "readOnly" if direction == "request" else "writeOnly"
        return {
            key: example_from_schema(value, components, name=key, direction=direction)
            for key, value in schema.get("properties", {}).items()
            if not value.get(skip)
        }
    if kind == "array":
        return [example_from_schema(schema.get("items", {}), components, name=name, direction=direction)]
    if kind == "string":
        return EXAMPLE_VALUES.get(name) or EXAMPLE_BY_FORMAT.get(schema.get("format", ""), name or "text")
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return None


def fill_examples(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: every request body and success response that no view gave an
    example gets one generated from its schema, so every operation shows one (hand-written ones stay)."""
    components = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [("response", response) for status, response in operation["responses"].items() if status < "300"]
            for direction, body in bodies:
                for media in body.get("content", {}).values():
                    if "schema" in media and not media.get("examples"):
                        value = example_from_schema(media["schema"], components, direction=direction)
                        media["examples"] = {"Example": {"value": value, "summary": "Generated from the schema"}}
    return result


def english_unless_asked(view: Callable[..., Any]) -> Callable[..., Any]:
    """The schema view, in English unless `?lang=` asks otherwise: the API reference is written in English, and the
    model labels and choices it borrows are translated for the Khmer back office (the default language)."""

    def schema(request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.GET.get("lang"):
            return view(request, *args, **kwargs)
        with translation.override("en"):
            response = view(request, *args, **kwargs)
            return response.render() if hasattr(response, "render") else response  # lazy strings, rendered here

    return schema
