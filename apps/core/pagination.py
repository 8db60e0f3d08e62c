"""Cursor pagination: stable and cheap on large tables (no COUNT, no OFFSET)."""

from rest_framework.pagination import CursorPagination as DrfCursorPagination


class CursorPagination(DrfCursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    # Newest first; views on models without `created_at` set their own `ordering`.
    ordering = "-created_at"
