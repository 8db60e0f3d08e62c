"""The staff statistics API: the dashboard's and analytics pages' figures as JSON for other tools
(`/api/staff/stats/...`). Staff only: a signed-in person who is not staff gets 403 `staff_only`."""

from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.backoffice import analytics
from apps.backoffice.errors import StaffOnly, StatsPeriodInvalid
from apps.backoffice.figures import dashboard
from apps.core.schema import raises


class IsStaff(IsAuthenticated):
    """Signed in (else 401 `not_authenticated`) and staff (else 403 `staff_only`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not getattr(request.user, "is_staff", False):
            raise StaffOnly()
        return True


PERIOD = [
    OpenApiParameter("from", str, description="First local day, YYYY-MM-DD (default: 29 days before today)."),
    OpenApiParameter("until", str, description="Last local day, YYYY-MM-DD (default: today); at most 366 days."),
    OpenApiParameter("by", str, enum=["day", "month"], description="Group the time series per day or per month."),
]


class StaffStatsView(APIView):
    # Staff use these from a signed-in admin session as well as with a token.
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, SessionAuthentication]
    permission_classes = [IsStaff]


class DashboardStatsView(StaffStatsView):
    @raises(StaffOnly)
    @extend_schema(
        tags=["staff"],
        operation_id="staff_stats_dashboard",
        summary="The operations dashboard's figures.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        """The operations dashboard: today's figures, queues, providers online, money pending, 24-hour and 30-day
        series."""
        return Response(dashboard())


def _period_view(name: str, figures: Any, summary: str) -> type[StaffStatsView]:
    class View(StaffStatsView):
        @raises(StaffOnly, StatsPeriodInvalid)
        @extend_schema(
            tags=["staff"],
            operation_id=f"staff_stats_{name}",
            summary=summary,
            description=(
                "The same figures as the back office's analytics page, for a period (`from`, `until`, grouped "
                "per `by`: day or month). Staff only: sign in to the admin or use a staff member's token."
            ),
            parameters=PERIOD,
            responses={200: OpenApiTypes.OBJECT},
        )
        def get(self, request: Request) -> Response:
            period = analytics.Period.from_query(request.query_params)
            return Response({"period": period.as_dict(), **figures(period=period)})

    View.__name__ = View.__qualname__ = f"{name.title()}StatsView"
    return View


urlpatterns = [
    path("staff/stats/dashboard", DashboardStatsView.as_view(), name="staff-stats-dashboard"),
    path(
        "staff/stats/clients",
        _period_view("clients", analytics.clients, "Per client: volume, segments, delivery, latency, spend.").as_view(),
        name="staff-stats-clients",
    ),
    path(
        "staff/stats/carriers",
        _period_view(
            "carriers", analytics.carriers, "Per carrier and province: delivery, latency, capacity vs demand."
        ).as_view(),
        name="staff-stats-carriers",
    ),
    path(
        "staff/stats/providers",
        _period_view(
            "providers", analytics.providers, "Per provider: jobs, delivery, strikes, earnings, uptime."
        ).as_view(),
        name="staff-stats-providers",
    ),
    path(
        "staff/stats/fraud",
        _period_view("fraud", analytics.fraud, "Per day: canaries, catch rate, fraud strikes.").as_view(),
        name="staff-stats-fraud",
    ),
]
