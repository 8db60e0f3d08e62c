"""The incentives back office: per-segment prices here (a price that has applied is never edited: add a new
row); each other area's screens register themselves from their own module."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from apps.audit.services import audit_record
from apps.incentives.models import Price
from apps.incentives.payouts import admin as payouts_admin  # noqa: F401 - registers the payout screens


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ("priority", "route", "amount", "valid_from", "valid_until", "note")

    def clean_valid_until(self) -> Any:
        # A price that has applied may be ended from now on, never back in time (messages were quoted with it).
        value = self.cleaned_data.get("valid_until")
        applied = self.instance.pk is not None and self.instance.valid_from <= timezone.now()
        if applied and value != self.instance.valid_until and (value is None or value < timezone.now()):
            raise forms.ValidationError("A price that has applied can only be ended, from now on.")
        return value


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceForm
    list_display = ("priority", "route", "amount", "valid_from", "valid_until", "note", "created_by")
    list_filter = ("priority", "route")
    search_fields = ("note",)
    fields = ("priority", "route", "amount", "valid_from", "valid_until", "note")

    def _applied(self, obj: Price | None) -> bool:
        return obj is not None and obj.valid_from <= timezone.now()

    def get_readonly_fields(self, request: HttpRequest, obj: Price | None = None) -> tuple[str, ...]:
        # Messages were quoted with it: only its end may still be set (a price is ended, never rewritten).
        if self._applied(obj):
            return ("priority", "route", "amount", "valid_from", "note")
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: Price | None = None) -> bool:
        return obj is None or not self._applied(obj)

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="price.changed" if change else "price.created",
            target=obj,
            after={
                "priority": obj.priority,
                "route": obj.route,
                "amount": obj.amount,
                "valid_from": obj.valid_from.isoformat(),
                "valid_until": obj.valid_until.isoformat() if obj.valid_until else None,
            },
        )
