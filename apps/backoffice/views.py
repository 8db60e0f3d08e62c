"""The back office's admin pages: the dashboard's JSON refresh and the analytics pages (staff only, through
`admin.site.admin_view`, which also sends anyone else to the admin's login page)."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from apps.backoffice import analytics
from apps.backoffice.charts import bar_chart
from apps.backoffice.errors import StatsPeriodInvalid
from apps.backoffice.figures import SERIES, SERIES_LABELS, dashboard


def dashboard_charts(figures: dict[str, Any]) -> dict[str, str]:
    """The two charts' SVG markup for `figures` (what `dashboard()` returns)."""
    return {
        "hours": bar_chart(figures["hours"], SERIES, SERIES_LABELS, title=_("Last 24 hours, per hour")),
        "days": bar_chart(figures["days"], SERIES, SERIES_LABELS, title=_("Last 30 days, per day")),
    }


def dashboard_context() -> dict[str, Any]:
    figures = dashboard()
    return {**figures, "charts": dashboard_charts(figures)}


def dashboard_json(request: HttpRequest) -> JsonResponse:
    """What the dashboard's script fetches every few seconds to refresh itself."""
    context = dashboard_context()
    context["charts"] = {name: str(svg) for name, svg in context["charts"].items()}
    return JsonResponse(context)


RATE, LATENCY = _("Delivered %"), _("Mean latency (s)")
CLIENT_COLUMNS = [
    ("name", _("Client")),
    ("submitted", _("Messages")),
    ("segments", _("Segments")),
    ("delivered", _("Delivered")),
    ("failed", _("Failed or expired")),
    ("delivery_rate", RATE),
    ("latency_mean_seconds", LATENCY),
    ("spend_ppt", _("Spend (PPT)")),
]
CARRIER_COLUMNS = [
    ("label", _("Carrier")),
    ("submitted", _("Messages")),
    ("delivery_rate", RATE),
    ("p50", _("p50 (s)")),
    ("p90", _("p90 (s)")),
    ("capacity_segments_per_hour", _("Capacity (segments/h)")),
    ("demand_segments_last_hour", _("Demand last hour (segments)")),
    ("segments_waiting", _("Segments waiting")),
]
PROVINCE_COLUMNS = [
    ("label", _("Province")),
    ("providers_online", _("Providers online")),
    ("delivered", _("Delivered")),
    ("failed", _("Failed")),
    ("delivery_rate", RATE),
]
PROVIDER_COLUMNS = [
    ("name", _("Provider")),
    ("jobs", _("Jobs")),
    ("delivery_rate", RATE),
    ("strikes", _("Open strikes")),
    ("earnings_pending_ppt", _("Earnings pending (PPT)")),
    ("earnings_posted_ppt", _("Earnings posted (PPT)")),
    ("uptime_percent", _("Uptime %")),
]
FRAUD_COLUMNS = [
    ("day", _("Day")),
    ("canaries", _("Canaries sent")),
    ("confirmed", _("Arrived")),
    ("missed", _("Caught (never arrived)")),
    ("catch_rate", _("Catch rate %")),
    ("strikes", _("Fraud strikes")),
]


def _table(title: Any, columns: list[tuple[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A table for backoffice/analytics.html: its first cell links to the admin list behind the row."""
    cells = [{"cells": [row.get(key) for key, _label in columns], "url": row.get("url")} for row in rows]
    return {"title": title, "columns": columns, "rows": cells}


def _page(request: HttpRequest, title: str, build: Any) -> HttpResponse:
    try:
        period = analytics.Period.from_query(request.GET)
    except StatsPeriodInvalid as error:
        messages.warning(request, str(error.message))
        period = analytics.Period.from_query({})
    context = {**admin.site.each_context(request), "title": title, "pages": analytics.PAGES, "period": period}
    return TemplateResponse(request, "backoffice/analytics.html", {**context, "tables": build(period)})


def clients_page(request: HttpRequest) -> HttpResponse:
    def build(period: analytics.Period) -> list[dict[str, Any]]:
        figures = analytics.clients(period=period)
        per = _("Per month") if period.by == "month" else _("Per day")
        return [
            _table(_("Clients"), CLIENT_COLUMNS, figures["clients"]),
            _table(per, [("period", _("Period")), *CLIENT_COLUMNS], figures["series"]),
        ]

    return _page(request, _("Clients"), build)


def carriers_page(request: HttpRequest) -> HttpResponse:
    def build(period: analytics.Period) -> list[dict[str, Any]]:
        figures = analytics.carriers(period=period)
        return [
            _table(_("Carriers"), CARRIER_COLUMNS, figures["carriers"]),
            _table(_("Provinces"), PROVINCE_COLUMNS, figures["provinces"]),
        ]

    return _page(request, _("Carriers and provinces"), build)


def providers_page(request: HttpRequest) -> HttpResponse:
    def build(period: analytics.Period) -> list[dict[str, Any]]:
        return [_table(_("Providers"), PROVIDER_COLUMNS, analytics.providers(period=period)["providers"])]

    return _page(request, _("Providers"), build)


def fraud_page(request: HttpRequest) -> HttpResponse:
    def build(period: analytics.Period) -> list[dict[str, Any]]:
        return [_table(_("Per day"), FRAUD_COLUMNS, analytics.fraud(period=period)["days"])]

    return _page(request, _("Canaries and fraud strikes"), build)
