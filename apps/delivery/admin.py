"""Back office for proof of delivery: reports, fraud flags and strikes (ban and deny-list actions), canaries, rates."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.accounts.admin_search import PhoneSearchMixin
from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin
from apps.delivery.fraud import fraud_strike_clear
from apps.delivery.models import Canary, DeliveryReport, DeliveryStat, FraudFlag
from apps.providers.models import Provider
from apps.providers.services import provider_ban, provider_deny_list


@admin.register(DeliveryReport)
class DeliveryReportAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "job",
        "provider",
        "status",
        "error_code",
        "occurred_at",
        "received_at",
        "signed",
        "applied",
        "unsettled",
        "flags",
    )
    # "Unsettled": deliveries whose capture, reward and outcome still wait for the settle step (apps.delivery.settling).
    list_filter = ("status", "signed", "applied", "unsettled", ("received_at", DateRangeFilter))
    csv_fields = (
        "id", "job_id", "provider_id", "status", "error_code", "parts", "occurred_at", "received_at", "signed",
        "applied",
    )  # fmt: skip
    search_fields = ("=job__id", "=job__message__id")
    list_select_related = ("job", "provider")


@admin.register(FraudFlag)
class FraudFlagAdmin(PhoneSearchMixin, CsvExportMixin, ReadOnlyAdmin):
    """Suspicious activity and strikes, newest first; ban and deny-list actions act on the flagged providers."""

    list_display = ("created_at", "provider", "rule", "strike", "job", "details", "cleared_at")
    list_filter = ("rule", "strike", ("cleared_at", admin.EmptyFieldListFilter), ("created_at", DateRangeFilter))
    csv_fields = ("id", "created_at", "provider_id", "rule", "strike", "job_id", "cleared_at", "details")
    search_fields = ("=provider__id",)
    phone_search_fields = ("provider__user__phone",)
    list_select_related = ("provider", "job")
    actions = ("clear_strikes", "ban_providers", "deny_devices", "deny_sims", "deny_phones")

    @admin.action(description=_("Clear the selected strikes (false alarms)"))
    def clear_strikes(self, request: HttpRequest, queryset: QuerySet) -> None:
        for flag in queryset.filter(strike=True, cleared_at__isnull=True):
            fraud_strike_clear(flag=flag, actor=request.user)
        self.message_user(request, _("Strikes cleared."))

    @admin.action(description=_("Ban the flagged providers"))
    def ban_providers(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in Provider.objects.filter(pk__in=queryset.values("provider_id")):
            provider_ban(provider=provider, actor=request.user, reason="fraud")
        self.message_user(request, _("Providers banned."))

    @admin.action(description=_("Deny-list the flagged providers' devices (and forget them)"))
    def deny_devices(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._deny(request, queryset, devices=True)

    @admin.action(description=_("Deny-list the flagged providers' SIM numbers (and remove the SIMs)"))
    def deny_sims(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._deny(request, queryset, sims=True)

    @admin.action(description=_("Deny-list the flagged providers' account numbers (and ban them)"))
    def deny_phones(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._deny(request, queryset, phone=True)

    def _deny(self, request: HttpRequest, queryset: QuerySet, **what: bool) -> None:
        # The values go on the deny-list (reason, who, when) so they cannot simply register again.
        providers = Provider.objects.filter(pk__in=queryset.values("provider_id")).select_related("user")
        for provider in providers:
            provider_deny_list(provider=provider, actor=request.user, reason="fraud flag (admin)", **what)
        self.message_user(request, _("Deny-listed for %(count)s provider(s).") % {"count": len(providers)})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("delivery.change_fraudflag")  # actions need it; the form stays read-only

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in FraudFlag._meta.fields]


@admin.register(Canary)
class CanaryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "message", "status", "confirmed_at", "judged_at")
    list_filter = ("status",)
    list_select_related = ("message",)


@admin.register(DeliveryStat)
class DeliveryStatAdmin(CsvExportMixin, ReadOnlyAdmin):
    """Daily success rates per provider, and per carrier (rows without a provider: the sums of the providers' rows,
    refreshed by the periodic fraud scan, `delivery.fraud_scan`, every ten minutes; they lag by up to one scan)."""

    list_display = ("day", "carrier", "provider", "delivered", "failed", "rate")
    list_filter = ("carrier", ("provider", admin.EmptyFieldListFilter), ("day", DateRangeFilter))
    csv_fields = ("day", "carrier", "provider_id", "delivered", "failed")
    list_select_related = ("provider",)
    ordering = ("-day", "carrier")

    @admin.display(description=_("success rate"))
    def rate(self, stat: DeliveryStat) -> str:
        return "-" if stat.success_rate is None else f"{stat.success_rate:.1%}"
