"""Back office for providers: find them (status, carrier, online, province, phone), see their SIMs, phones,
heartbeat age and uptime, and approve / suspend / ban them. Every decision goes through a service, which audits it;
the admin itself edits nothing that matching depends on."""

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.phone import normalize_phone
from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin
from apps.core.errors import DomainError, ValidationFailed
from apps.providers import services
from apps.providers.admin_panels import provider_panels
from apps.providers.choices import Carrier
from apps.providers.models import AvailabilityChange, Device, Provider, Sim
from apps.providers.selectors import provider_uptime
from apps.providers.services.trust import provider_trust_set

# The levels staff pick from (PROVIDER_CODE_MIN_TRUST_LEVEL decides which reach one-time codes).
TRUST_LEVELS = (0, 25, 50, 75, 100)


class CarrierFilter(admin.SimpleListFilter):
    title = _("carrier")
    parameter_name = "carrier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Carrier.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(sims__carrier=self.value(), sims__active=True).distinct()
        return queryset


class UnresponsiveFilter(admin.SimpleListFilter):
    """Providers matching passes over because an offer to their phone ended unacknowledged (see
    `apps.providers.services.responsiveness`)."""

    title = "missed acknowledgement"
    parameter_name = "unresponsive"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "unresponsive: no new work until heard from"), ("no", "responsive")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(unresponsive_since__isnull=self.value() == "no")
        return queryset


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(self.fields)


class SimInline(ReadOnlyInline):
    model = Sim
    fields = (
        "msisdn",
        "slot",
        "carrier",
        "carrier_detected",
        "mcc_mnc",
        "carrier_mismatch",
        "verified_at",
        "hourly_cap",
        "daily_cap",
        "active",
        "ready",
        "matchable",
        "capped_until",
        "cooldown_level",
        "cooldown_until",
        "last_block_at",
        "last_assigned_at",
        "created_at",
    )
    ordering = ("-active", "slot")


class DeviceInline(ReadOnlyInline):
    model = Device
    fields = (
        "token_end",
        "platform",
        "app_version",
        "sealed_pushes",
        "last_heartbeat_at",
        "battery",
        "charging",
        "network_type",
        "signal",
        "updated_at",
    )

    @admin.display(description=_("FCM token"))
    def token_end(self, device: Device) -> str:
        # Enough to tell tokens apart; the whole token is a push address and stays out of staff screens.
        return f"…{device.fcm_token[-8:]}"

    @admin.display(description=_("sealed pushes"), boolean=True)
    def sealed_pushes(self, device: Device) -> bool:
        # Whether the phone registered a seal key: its job pushes carry the job's content, sealed to it.
        return bool(device.seal_key)


def heartbeat_age(last: Any, now: Any) -> str:
    if last is None:
        return _("never")
    seconds = int((now - last).total_seconds())
    if seconds < 120:
        return _("%(count)s s") % {"count": seconds}
    if seconds < 2 * 3600:
        return _("%(count)s min") % {"count": seconds // 60}
    if seconds < 2 * 86400:
        return _("%(count)s h") % {"count": seconds // 3600}
    return _("%(count)s d") % {"count": seconds // 86400}


@admin.register(Provider)
class ProviderAdmin(CsvExportMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "phone",
        "status",
        "availability",
        "province",
        "carriers",
        "reputation",
        "trusted",
        "trust_level",
        "jobs_in_flight",
        "heartbeat",
        "unresponsive",
        "created_at",
    )
    list_filter = (
        "status",
        "availability",
        UnresponsiveFilter,
        "trusted",
        CarrierFilter,
        "province",
        ("created_at", DateRangeFilter),
    )
    csv_fields = (
        "id", "user__phone", "status", "availability", "province", "reputation", "score", "jobs_in_flight",
        "jobs_delivered", "jobs_failed", "last_heartbeat_at", "unresponsive_since", "approved_at", "created_at",
    )  # fmt: skip
    search_fields = ("=user__phone", "=sims__msisdn")  # encrypted: whole numbers only, by their keyed hash
    list_select_related = ("user",)
    ordering = ("-created_at",)
    show_full_result_count = False
    inlines = (SimInline, DeviceInline)
    actions = ("approve", "suspend", "ban", "deny_everything", "trust", "distrust")
    fields = (
        "user",
        "status",
        "approved_at",
        "availability",
        "chosen_availability",
        "availability_changed_at",
        "uptime_24h",
        "uptime_7d",
        "last_heartbeat_at",
        "unresponsive_since",
        "province",
        "latitude",
        "longitude",
        "reputation",
        "trusted",
        "trust_level",
        "jobs_in_flight",
        "jobs_delivered",
        "jobs_failed",
        "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        active_sims = Prefetch("sims", queryset=Sim.objects.filter(active=True), to_attr="active_sims")
        return super().get_queryset(request).prefetch_related(active_sims)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        # Staff type numbers as people say them ("012 345 678"): search by the E.164 form when it parses.
        try:
            e164 = normalize_phone(search_term, require_mobile=False, allowed_regions=[]).e164
        except ValidationFailed:
            return super().get_search_results(request, queryset, search_term)
        by_phone = queryset.filter(user__phone=e164) | queryset.filter(sims__msisdn=e164)
        return by_phone.distinct(), True

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        # Strikes, earnings and recent jobs come from apps above this one, through apps.providers.admin_panels.
        context["provider_panels"] = provider_panels(obj) if obj is not None else []
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # providers register from the app

    def has_delete_permission(self, request: HttpRequest, obj: Provider | None = None) -> bool:
        return False  # ban instead: the history of what they sent must stay

    @admin.display(description=_("phone"))  # encrypted: no meaningful order
    def phone(self, provider: Provider) -> str:
        return provider.user.phone

    @admin.display(description=_("carriers"))
    def carriers(self, provider: Provider) -> str:
        return ", ".join(sorted({sim.get_carrier_display() for sim in provider.active_sims}))

    @admin.display(description=_("heartbeat age"), ordering="last_heartbeat_at")
    def heartbeat(self, provider: Provider) -> str:
        return heartbeat_age(provider.last_heartbeat_at, timezone.now())

    @admin.display(description=_("unresponsive for"), ordering="unresponsive_since")
    def unresponsive(self, provider: Provider) -> str:
        # Since an offer ended unacknowledged; blank once the phone is heard from.
        if provider.unresponsive_since is None:
            return ""
        return heartbeat_age(provider.unresponsive_since, timezone.now())

    @admin.display(description=_("uptime, last 24 h"))
    def uptime_24h(self, provider: Provider) -> str:
        return f"{provider_uptime(provider=provider, since=timezone.now() - timedelta(days=1)):.0%}"

    @admin.display(description=_("uptime, last 7 days"))
    def uptime_7d(self, provider: Provider) -> str:
        return f"{provider_uptime(provider=provider, since=timezone.now() - timedelta(days=7)):.0%}"

    def _act(self, request: HttpRequest, queryset: QuerySet, service: Any, done_text: Any, refused_text: Any) -> None:
        done, refused = 0, []
        for provider in queryset:
            try:
                service(provider=provider, actor=request.user, reason="admin action")
                done += 1
            except DomainError as error:
                refused.append(f"{provider.user.phone} ({error.details.get('status', error.code)})")
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)
        if refused:
            self.message_user(request, refused_text % {"providers": ", ".join(refused)}, messages.WARNING)

    @admin.action(description=_("Approve (or reinstate) selected providers"))
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            services.provider_approve,
            _("Approved %(count)s provider(s)."),
            _("Not approved: %(providers)s."),
        )

    @admin.action(description=_("Suspend selected providers"))
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            services.provider_suspend,
            _("Suspended %(count)s provider(s)."),
            _("Not suspended: %(providers)s."),
        )

    @admin.action(description=_("Ban selected providers"))
    def ban(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            services.provider_ban,
            _("Banned %(count)s provider(s)."),
            _("Not banned: %(providers)s."),
        )

    # The trusted pool and trust levels: actions, so every change goes through the audited service.
    @admin.action(description=_("Put selected providers in the trusted pool (sign-in codes, sensitive messages)"))
    def trust(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_trust(request, queryset, trusted=True)

    @admin.action(description=_("Take selected providers out of the trusted pool"))
    def distrust(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_trust(request, queryset, trusted=False)

    def _set_trust(self, request: HttpRequest, queryset: QuerySet, **change: Any) -> None:
        changed = sum(provider_trust_set(provider=provider, actor=request.user, **change) for provider in queryset)
        self.message_user(request, _("Trust changed for %(count)s provider(s).") % {"count": changed}, messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        for level in TRUST_LEVELS:
            name = f"trust_level_{level}"

            def set_level(model_admin: Any, request: HttpRequest, queryset: QuerySet, level: int = level) -> None:
                model_admin._set_trust(request, queryset, level=level)

            actions[name] = (
                set_level,
                name,
                _("Set the trust level of selected providers to %(level)s") % {"level": level},
            )
        return actions

    @admin.action(description=_("Ban and deny-list selected providers' number, SIMs and devices"))
    def deny_everything(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Banning alone frees the SIMs' numbers and the app install to register again; the deny-list holds them.
        for provider in queryset.select_related("user"):
            services.provider_deny_list(
                provider=provider, actor=request.user, reason="admin action", sims=True, devices=True, phone=True
            )
        self.message_user(request, _("Banned and deny-listed."), messages.SUCCESS)


@admin.register(AvailabilityChange)
class AvailabilityChangeAdmin(ReadOnlyAdmin):
    """Read-only history of availability changes, the source of uptime."""

    list_display = ("created_at", "provider", "previous", "availability", "reason")
    list_filter = ("reason", "availability")
    search_fields = ("=provider__user__phone",)
    list_select_related = ("provider__user",)
