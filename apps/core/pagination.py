"""Cursor pagination: stable and cheap on large tables (no COUNT, no OFFSET)."""

from typing import Any

from rest_framework.pagination import CursorPagination as DrfCursorPagination
from rest_framework.request import Request

from apps.core.errors import ValidationFailed


class CursorPagination(DrfCursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    # Newest first; views on models without `created_at` set their own `ordering`.
    ordering = "-created_at"

    def get_page_size(self, request: Request) -> int:
        """`limit` is 1 to 200, as the schema says; DRF would quietly use the default for `limit=null`, `limit=_`
        or `limit=0.5` and cap `limit=1000`, so the client never learnt its request was wrong."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationFailed(
                code="limit_invalid", details={"limit": raw, "minimum": 1, "maximum": self.max_page_size}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size, "default": self.page_size})
        return parameters
