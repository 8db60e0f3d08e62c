"""CSV export of an admin list: every row of the current filter and search, streamed, audited.

Staff work in lists of millions of rows (messages, jobs, transfers, the audit log itself), so the file is written
row by row from a server-side iterator while it downloads: memory stays flat whatever the size. Each export writes
an audit row (who, which list, which filters), since an export takes data out of the system.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone

from apps.audit.services import audit_record

EXPORT_CHUNK = 2000
# A cell a spreadsheet would read as a formula (client-written text such as a message reference can start so).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """csv.writer writes to it; the line written is handed straight back to the streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    """One value as text for a CSV file: times in ISO 8601 (UTC), None empty, formula-looking text defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _value(obj: Any, field_path: str) -> Any:
    for part in field_path.split("__"):
        if obj is None:
            return None
        try:
            obj = getattr(obj, part)
        except ObjectDoesNotExist:
            return None
    return obj() if callable(obj) else obj


class CsvExportMixin:
    """Adds `export.csv` under a model admin's list (and an "Export CSV" link beside "Add", see
    templates/admin/change_list_object_tools.html). `csv_fields`: the columns, as field paths (`organization_id`,
    `organization__name`: related rows are joined, not read row by row). Only staff who may view the list may
    export it."""

    csv_fields: tuple[str, ...] = ()

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        view = self.admin_site.admin_view(self.export_csv_view)
        name = f"{opts.app_label}_{opts.model_name}_export_csv"
        return [path("export.csv", view, name=name), *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The list page's own ChangeList reads the filters, date ranges and search from the query string, so the
        # file holds what the list shows (all pages); a bad filter is refused as the list refuses it.
        try:
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
        except IncorrectLookupParameters:
            # As the list page answers a filter it cannot apply: back to the list, with Django's error flag.
            return HttpResponseRedirect(f"{request.path.removesuffix('export.csv')}?{ERROR_FLAG}=1")
        opts = self.model._meta
        filters = {name: request.GET.getlist(name) for name in request.GET}
        audit_record(
            actor=request.user,
            action="admin.export_csv",
            target_type=opts.label_lower,
            after={"filters": filters, "columns": list(self.csv_fields)},
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(self._csv_lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{opts.model_name}-{stamp}.csv"'
        return response

    def _csv_lines(self, queryset: Iterable[Any]) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # a byte-order mark, so spreadsheet programs read Khmer text as UTF-8
        # Columns keep their field paths (stable for the scripts that read the files), not translated labels.
        yield writer.writerow(self.csv_fields)
        relations = {name.rsplit("__", 1)[0] for name in self.csv_fields if "__" in name}
        for obj in queryset.select_related(*relations).iterator(chunk_size=EXPORT_CHUNK):
            yield writer.writerow([csv_cell(_value(obj, name)) for name in self.csv_fields])
