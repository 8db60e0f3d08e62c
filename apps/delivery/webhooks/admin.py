"""Back office for webhooks: endpoints (with why one was disabled, and re-enabling), events with their deliveries
and every attempt, and resending. Staff edit and delete endpoints, re-enable and resend through the services, so
everything is checked and audited; endpoints are created by clients (who are shown the secret), events and
deliveries only by the system."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.addresses import WebhookUrlRefused, webhook_url_check
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.delivery.webhooks import services
from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class SystemRowAdmin(ReadOnlyAdmin):
    """Webhook rows written by the system: staff open a row (every field read-only) and act on it through actions."""

    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields if field.name not in (self.exclude or ())] + list(
            self.readonly_fields
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Staff with the model's change permission open the row (its fields stay read-only) to use the actions.
        return admin.ModelAdmin.has_change_permission(self, request, obj)


class DisabledFilter(admin.SimpleListFilter):
    title = _("disabled")
    parameter_name = "disabled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Disabled (kept failing)")), ("no", _("Not disabled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(disabled_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(disabled_at__isnull=True)
        return queryset


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label=_("URL"))
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, label=_("event types")
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if self.instance.pk is None or url != self.instance.url:
            try:
                webhook_url_check(url)
            except WebhookUrlRefused as error:
                raise forms.ValidationError(str(error.message), code=error.code) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SystemRowAdmin):
    list_display = (
        "id",
        "organization",
        "url",
        "state",
        "consecutive_failures",
        "last_success_at",
        "last_failure_at",
        "created_at",
    )
    list_filter = ("active", DisabledFilter)
    search_fields = ("=id", "url", "organization__name")
    list_select_related = ("organization",)
    form = WebhookEndpointForm
    exclude = ("secret", "previous_secret")
    readonly_fields = ("secret_hint", "deliveries_link")
    actions = ("enable",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        editable = set(WebhookEndpointForm.Meta.fields)
        return [name for name in super().get_readonly_fields(request, obj) if name not in editable]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        data = form.cleaned_data
        services.webhook_endpoint_update(
            endpoint=obj,
            actor=request.user,
            url=data["url"],
            event_types=data["event_types"],
            description=data["description"],
            active=data["active"],
        )

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)

    @admin.display(description=_("state"))
    def state(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.disabled_at is not None:
            return _("disabled: %(reason)s") % {"reason": endpoint.disabled_reason}
        return _("active") if endpoint.active else _("switched off by the client")

    @admin.display(description=_("secret"))
    def secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.secret_hint

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:delivery_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Deliveries to this endpoint"))

    @admin.action(description=_("Re-enable the selected disabled endpoints"), permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        enabled = sum(services.webhook_endpoint_enable(endpoint=e, actor=request.user) for e in queryset)
        self.message_user(request, _("%(count)s endpoint(s) re-enabled.") % {"count": enabled}, messages.SUCCESS)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "target",
        "url",
        "status",
        "status_reason",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "succeeded_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _resend(model_admin: admin.ModelAdmin, request: HttpRequest, deliveries: list[WebhookDelivery]) -> None:
    resent, refused = 0, []
    for delivery in deliveries:
        try:
            services.webhook_delivery_resend(delivery=delivery, actor=request.user)
            resent += 1
        except DomainError as error:
            refused.append(_("delivery %(id)s: %(error)s") % {"id": delivery.pk, "error": error.message})
    model_admin.message_user(request, _("%(count)s delivery(ies) resent.") % {"count": resent}, messages.SUCCESS)
    if refused:
        model_admin.message_user(
            request, _("Not resent: %(deliveries)s") % {"deliveries": "; ".join(refused)}, messages.WARNING
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(SystemRowAdmin):
    list_display = ("public_id", "type", "organization", "message_id", "created_at")
    list_filter = ("type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=public_id",)
    search_help_text = _("An event id (evt_…) or a message id.")
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    exclude = ("body",)
    readonly_fields = ("payload", "attempts")
    inlines = [DeliveryInline]
    actions = ("resend",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(message_id=int(term)), False
        return queryset.filter(public_id=term) if term else queryset, False

    @admin.display(description=_("body"))
    def payload(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(event.body), indent=2, ensure_ascii=False))

    @admin.display(description=_("attempts"))
    def attempts(self, event: WebhookEvent) -> str:
        rows = WebhookAttempt.objects.filter(delivery__event=event).order_by("started_at", "number")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (a.delivery_id, a.number, a.started_at, a.url, a.status_code or "–", a.latency_ms, a.error or a.outcome)
                for a in rows
            ),
        )
        header = format_html_join(
            "",
            "<th>{}</th>",
            ((label,) for label in (_("delivery"), "#", _("at"), _("URL"), _("status"), _("latency"), _("result"))),
        )
        header = format_html("<tr>{}</tr>", header)
        return format_html("<table>{}{}</table>", header, body) if body else _("none yet")

    @admin.action(
        description=_("Resend the selected events to their endpoints and callback URLs"), permissions=["change"]
    )
    def resend(self, request: HttpRequest, queryset: QuerySet) -> None:
        _resend(self, request, list(WebhookDelivery.objects.filter(event__in=queryset)))


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "url", "outcome", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SystemRowAdmin):
    list_display = (
        "id",
        "event",
        "target",
        "url",
        "status",
        "status_reason",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "target")
    search_fields = ("=event__public_id",)
    search_help_text = _("An event id (evt_…).")
    list_select_related = ("event",)
    ordering = ("-created_at",)
    exclude = ("claim_token",)
    inlines = [AttemptInline]
    actions = ("resend",)

    @admin.action(description=_("Resend the selected deliveries"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet) -> None:
        _resend(self, request, list(queryset))
