"""Back office for rewards and dynamic pricing: reward rules and surge bounds (staff-edited, with validity, audited),
rewards and clawbacks (read-only: money moves only through the ledger), the multipliers and their history."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdmin
from apps.incentives.models import Clawback, Reward, RewardRule, RouteMultiplier, SurgeBounds
from apps.incentives.rules import incentive_rule_delete, incentive_rule_save


class IncentiveRuleAdmin(admin.ModelAdmin):
    """Saves and deletions go through the audited service. A rule a reward used is never changed: add a new row."""

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

    def get_readonly_fields(self, request: HttpRequest, obj: RewardRule | None = None) -> tuple[str, ...]:
        if obj is not None and obj.rewards.exists():
            return ("route", "priority", "amount_per_segment", "valid_from")
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: RewardRule | None = None) -> bool:
        return obj is None or not obj.rewards.exists()


@admin.register(SurgeBounds)
class SurgeBoundsAdmin(IncentiveRuleAdmin):
    list_display = ("carrier", "route", "floor_bp", "ceiling_bp", "valid_from", "valid_until", "note", "created_by")
    list_filter = ("carrier", "route")
    search_fields = ("note",)
    fields = ("carrier", "route", "floor_bp", "ceiling_bp", "valid_from", "valid_until", "note")


@admin.register(Reward)
class RewardAdmin(ReadOnlyAdmin):
    list_display = ("job_id", "provider", "status", "amount", "route", "priority", "segments", "surge_bp",
                    "share_bp", "booked_at", "due_at", "settled_at", "void_reason")  # fmt: skip
    list_filter = ("status", "route", "priority", "establishing", "carrier", ("booked_at", admin.DateFieldListFilter))
    search_fields = ("=job__id", "=message__id", "=provider__id", "=transfer_id")
    list_select_related = ("provider__user",)
    date_hierarchy = "booked_at"
    raw_id_fields = ("job", "message", "provider", "rule")


@admin.register(Clawback)
class ClawbackAdmin(ReadOnlyAdmin):
    list_display = ("reward", "provider", "status", "amount", "recovered", "reason", "created_at", "recovered_at")
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=provider__id", "=reward__job__id", "reason")
    list_select_related = ("provider__user", "reward")
    raw_id_fields = ("reward", "provider")


@admin.register(RouteMultiplier)
class RouteMultiplierAdmin(ReadOnlyAdmin):
    """The newest row per carrier route is the multiplier in force; the rest is its history."""

    list_display = ("computed_at", "carrier", "route", "multiplier_bp", "smoothed_bp", "raw_bp", "demand_segments",
                    "supply_segments")  # fmt: skip
    list_filter = ("carrier", "route", ("computed_at", admin.DateFieldListFilter))
    date_hierarchy = "computed_at"
