"""Admin building blocks shared by the apps."""

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, ChangeList
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system writes (reports, flags, statistics, history): staff read them, never add, change or delete
    one here. No full COUNT(*) under the list: these tables grow large."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DateRangeFilter(admin.DateFieldListFilter):
    """Django's quick date choices (today, past 7 days, this month, this year) and a custom range: two date inputs,
    from and to (both inclusive, local days), applied together with the page's other filters and its search."""

    template = "admin/date_range_filter.html"

    def __init__(self, field: Any, request: HttpRequest, params: dict, model: Any, model_admin: Any, field_path: str):
        self.since_kwarg = f"{field_path}__from"
        self.until_kwarg = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.since = self._day(self.since_kwarg)
        self.until = self._day(self.until_kwarg)
        self.other_params: list[tuple[str, str]] = []

    def expected_parameters(self) -> list[str]:
        return [*super().expected_parameters(), self.since_kwarg, self.until_kwarg]

    def _day(self, kwarg: str) -> date | None:
        values = self.used_parameters.pop(kwarg, None)
        value = values[-1] if isinstance(values, list) else values
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise IncorrectLookupParameters(f"{kwarg}: not a date (YYYY-MM-DD)") from None

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        queryset = super().queryset(request, queryset)
        if self.since:
            queryset = queryset.filter(**{f"{self.field_path}__gte": self._midnight(self.since)})
        if self.until:
            queryset = queryset.filter(**{f"{self.field_path}__lt": self._midnight(self.until + timedelta(days=1))})
        return queryset

    def _midnight(self, day: date) -> datetime | date:
        if not isinstance(self.field, models.DateTimeField):
            return day
        return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        # The range form submits itself with GET: it carries the page's other filters and search as hidden inputs.
        self.other_params = [
            (name, value)
            for name, values in changelist.params.items()
            if name not in (self.since_kwarg, self.until_kwarg, PAGE_VAR, ERROR_FLAG)
            for value in (values if isinstance(values, list) else [values])
        ]
        yield from super().choices(changelist)

    def is_range_used(self) -> bool:
        return bool(self.since or self.until)


# Work waiting for staff, counted beside a list's name in the admin's app list (index and sidebar): model label
# (lower case) -> a count. Apps register their own in their admin modules; templates/admin/app_list.html shows them.
BADGES: dict[str, Callable[[], int]] = {}


def admin_badge_register(model_label: str, count: Callable[[], int]) -> None:
    """Show `count()` beside the list of `model_label` ("app.model") while it is above zero (one cheap query)."""
    BADGES[model_label.lower()] = count
