"""Back office for rewards, bonuses and dynamic pricing: reward rules, bonus rules and surge bounds (staff-edited,
with validity, audited), rewards, bonuses and clawbacks (read-only: money moves only through the ledger), the
multipliers and their history."""

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.core.admin import ReadOnlyAdmin
from apps.incentives.choices import Route
from apps.incentives.models import Bonus, BonusRule, Clawback, Reward, RewardRule, RouteMultiplier, SurgeBounds
from apps.incentives.multipliers import route_multipliers_in_force
from apps.incentives.rules import incentive_rule_delete, incentive_rule_save
from apps.incentives.surge import NEUTRAL_BP
from apps.providers.choices import Carrier


def times(basis_points: int) -> str:
    """10000 basis points as people read a multiplier: ×1.00."""
    return f"×{Decimal(basis_points) / NEUTRAL_BP:.2f}"


class IncentiveRuleAdmin(admin.ModelAdmin):
    """Saves and deletions go through the audited service. A rule something used (`used_by`: the related name) is
    never changed in what it decided (`locked_when_used`) nor deleted: add a new row."""

    used_by = ""
    locked_when_used: tuple[str, ...] = ()

    def _used(self, obj: Any) -> bool:
        return bool(self.used_by) and obj is not None and getattr(obj, self.used_by).exists()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.locked_when_used if self._used(obj) else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._used(obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        incentive_rule_save(rule=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        incentive_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for rule in queryset:
            incentive_rule_delete(rule=rule, actor=request.user)


@admin.register(RewardRule)
class RewardRuleAdmin(IncentiveRuleAdmin):
    list_display = ("route", "priority", "amount_per_segment", "valid_from", "valid_until", "note", "created_by")
    list_filter = ("route", "priority")
    search_fields = ("note",)
    fields = ("route", "priority", "amount_per_segment", "valid_from", "valid_until", "note")
    used_by = "rewards"
    locked_when_used = ("route", "priority", "amount_per_segment", "valid_from")


@admin.register(SurgeBounds)
class SurgeBoundsAdmin(IncentiveRuleAdmin):
    list_display = ("carrier", "route", "floor_bp", "ceiling_bp", "valid_from", "valid_until", "note", "created_by")
    list_filter = ("carrier", "route")
    search_fields = ("note",)
    fields = ("carrier", "route", "floor_bp", "ceiling_bp", "valid_from", "valid_until", "note")


@admin.register(Reward)
class RewardAdmin(ReadOnlyAdmin):
    list_display = ("job_id", "provider", "status", "amount", "route", "priority", "segments", "surge_bp",
                    "share_bp", "booked_at", "due_at", "settled_at", "void_reason", "transfer_id")  # fmt: skip
    list_filter = ("status", "route", "priority", "establishing", "carrier", ("booked_at", admin.DateFieldListFilter))
    search_fields = ("=job__id", "=message__id", "=provider__id", "=transfer_id")
    list_select_related = ("provider__user",)
    date_hierarchy = "booked_at"
    raw_id_fields = ("job", "message", "provider", "rule", "voided_by")


@admin.register(Clawback)
class ClawbackAdmin(ReadOnlyAdmin):
    list_display = ("reward", "provider", "status", "amount", "recovered", "refunded", "reason", "created_at",
                    "recovered_at", "cancelled_at")  # fmt: skip
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=provider__id", "=reward__job__id", "reason")
    list_select_related = ("provider__user", "reward")
    raw_id_fields = ("reward", "provider")


@admin.register(RouteMultiplier)
class RouteMultiplierAdmin(ReadOnlyAdmin):
    """The newest row per carrier route is the multiplier in force; the rest is its history. Above the history, the
    multipliers in force now (as quotes and rewards read them) with each route's floor and ceiling."""

    list_display = ("computed_at", "carrier", "route", "multiplier_bp", "smoothed_bp", "raw_bp", "demand_segments",
                    "supply_segments")  # fmt: skip
    list_filter = ("carrier", "route", ("computed_at", admin.DateFieldListFilter))
    date_hierarchy = "computed_at"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        rows = [
            {
                **row,
                "carrier_label": Carrier(row["carrier"]).label,
                "route_label": Route(row["route"]).label,
                "times": times(row["multiplier_bp"]),
                "floor": times(row["floor_bp"]),
                "ceiling": times(row["ceiling_bp"]),
            }
            for row in route_multipliers_in_force()
        ]
        return super().changelist_view(request, extra_context={**(extra_context or {}), "multipliers_in_force": rows})


@admin.register(BonusRule)
class BonusRuleAdmin(IncentiveRuleAdmin):
    list_display = ("kind", "amounts", "scope", "min_segments", "min_score", "min_uptime_bp", "valid_from",
                    "valid_until", "note", "created_by")  # fmt: skip
    list_filter = ("kind", "scope")
    search_fields = ("note",)
    fields = ("kind", "amounts", "scope", "min_segments", "min_score", "min_uptime_bp", "valid_from", "valid_until",
              "note")  # fmt: skip
    used_by = "bonuses"
    locked_when_used = ("kind", "amounts", "scope", "min_segments", "min_score", "min_uptime_bp", "valid_from")


@admin.register(Bonus)
class BonusAdmin(ReadOnlyAdmin):
    list_display = ("period", "kind", "provider", "group", "rank", "amount", "transfer_id", "created_at")
    list_filter = ("kind", "period", "group")
    search_fields = ("=provider__id", "=transfer_id", "period")
    list_select_related = ("provider__user",)
    raw_id_fields = ("provider", "rule")
