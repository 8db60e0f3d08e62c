from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from apps.accounts import services
from apps.accounts.admin_permissions import GroupAdmin, PermissionLabelsMixin
from apps.accounts.admin_search import PhoneSearchMixin
from apps.accounts.admin_vetting import ClientApplicationAdmin, ClientPlanAdmin, DenyListEntryAdmin
from apps.accounts.models import ApiKey, ClientMembership, ClientOrganization, DeviceSession, OtpChallenge, User
from apps.accounts.phone import normalize_phone
from apps.core.errors import ValidationFailed

__all__ = ["ClientApplicationAdmin", "ClientPlanAdmin", "DenyListEntryAdmin", "GroupAdmin"]


class PhoneUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("phone",)


class PhoneUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class ClientOrganizationForm(forms.ModelForm):
    class Meta:
        model = ClientOrganization
        fields = "__all__"  # noqa: DJ007 - the admin's fields and readonly_fields choose

    def clean_contact_phone(self) -> str:
        """Stored in E.164, like every number: its keyed hash then finds it whatever form staff search it in."""
        value = self.cleaned_data.get("contact_phone") or ""
        if not value:
            return ""
        try:
            return normalize_phone(value, require_mobile=False, allowed_regions=[]).e164
        except ValidationFailed as error:
            raise forms.ValidationError(str(error.message), code=error.code) from None


@admin.register(User)
class UserAdmin(PermissionLabelsMixin, PhoneSearchMixin, DjangoUserAdmin):
    form = PhoneUserChangeForm
    add_form = PhoneUserCreationForm
    ordering = ("-date_joined",)
    list_display = ("phone", "display_name", "did", "evm_address", "reputation_score", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_active", "preferred_language")
    search_fields = ("did", "evm_address", "display_name")
    phone_search_fields = ("phone",)
    readonly_fields = ("date_joined", "last_login")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        (_("Profile"), {"fields": ("display_name", "preferred_language", "reputation_score")}),
        (_("Identity"), {"fields": ("did", "evm_address")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "password1", "password2")}),)


@admin.register(DeviceSession)
class DeviceSessionAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("user", "name", "created_at", "last_used_at", "revoked_at", "ip")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    phone_search_fields = ("user__phone",)
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "created_at", "last_used_at", "revoked_at", "refresh_jti", "ip", "user_agent")
    actions = ["revoke"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Sign out the selected sessions"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[DeviceSession]) -> None:
        for session in queryset.filter(revoked_at__isnull=True):
            services.session_revoke(session=session, actor=request.user)
        self.message_user(request, _("Sessions signed out."))


@admin.register(OtpChallenge)
class OtpChallengeAdmin(PhoneSearchMixin, admin.ModelAdmin):
    """OTP requests for support staff; the code itself is never shown (only its hash is stored at all)."""

    list_display = ("phone", "purpose", "created_at", "expires_at", "attempts", "consumed_at", "superseded_at")
    list_filter = ("purpose",)
    search_fields = ("=phone",)
    phone_search_fields = ("phone",)
    fields = ("phone", "purpose", "created_at", "expires_at", "attempts", "consumed_at", "superseded_at", "request_ip")
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OtpChallenge | None = None) -> bool:
        return False


class ClientMembershipInline(admin.TabularInline):
    model = ClientMembership
    extra = 0
    raw_id_fields = ("user",)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "rate_per_second", "rate_per_day")
    readonly_fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: ClientOrganization | None = None) -> bool:
        return False  # keys are created through the API, which shows the secret once


@admin.register(ClientOrganization)
class ClientOrganizationAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = (
        "name", "contact_email", "contact_phone", "created_at", "approved_at", "plan", "verification_codes",
        "low_balance_threshold", "is_blocked",
    )  # fmt: skip
    list_filter = (("approved_at", admin.EmptyFieldListFilter), "plan", "is_blocked", "verification_codes")
    readonly_fields = ("approved_at",)
    list_select_related = ("plan",)
    # The contact phone is encrypted: found whole (any common form), by its keyed hash.
    search_fields = ("name", "contact_email")
    phone_search_fields = ("contact_phone", "memberships__user__phone")
    form = ClientOrganizationForm
    inlines = [ClientMembershipInline, ApiKeyInline]
    show_full_result_count = False
    actions = ["export_members", "erase_members"]

    @admin.action(description=_("Privacy: download the organisation's and its members' data (one organisation)"))
    def export_members(self, request: HttpRequest, queryset: QuerySet[ClientOrganization]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one organisation to export."), messages.ERROR)
            return None
        organization = queryset.get()
        response = StreamingHttpResponse(
            services.organization_export(organization=organization, actor=request.user), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="peerpower-client-{organization.pk}.zip"'
        return response

    @admin.action(description=_("Privacy: erase the members' personal data and revoke the API keys (irreversible)"))
    def erase_members(self, request: HttpRequest, queryset: QuerySet[ClientOrganization]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":  # irreversible: staff confirm on a page of its own first
            context = {**self.admin_site.each_context(request), "organizations": queryset, "title": _("Erase members")}
            return TemplateResponse(request, "admin/accounts/erase_confirmation.html", context)
        for organization in queryset:
            refused = services.organization_erase(organization=organization, actor=request.user)
            if refused:
                self.message_user(
                    request,
                    _("%(organization)s: money still in flight for members %(members)s.")
                    % {"organization": organization, "members": sorted(refused)},
                    messages.WARNING,
                )
        self.message_user(request, _("Erased."), messages.SUCCESS)
        return None

    def save_model(self, request: HttpRequest, obj: ClientOrganization, form: Any, change: bool) -> None:
        # A plan change goes through its service, which audits it; the rest of the form saves as before.
        plan_changed = change and "plan" in form.changed_data
        if plan_changed:
            plan = obj.plan
            obj.plan = ClientOrganization.objects.get(pk=obj.pk).plan
        if not obj.contact_phone:
            obj.contact_phone_hash = ""  # a cleared number is no longer found by its old hash
        super().save_model(request, obj, form, change)
        if plan_changed:
            services.client_plan_assign(organization=obj, plan=plan, actor=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "organization", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "organization__name")
    list_select_related = ("organization",)
    fields = (
        "organization",
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "rate_per_second",
        "rate_per_day",
    )
    readonly_fields = ("organization", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=key, actor=request.user)
        self.message_user(request, _("Keys revoked."))
