"""Back office for the content filter and the network-wide phone lists. Every change goes through a service, so
it is validated, audited and (for filter rules) reaches every process's compiled filter."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.accounts.phone import normalize_phone
from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, admin_badge_register
from apps.core.crypto import blind_index
from apps.core.errors import DomainError, ValidationFailed
from apps.messaging import services
from apps.messaging.admin_body import CONTENT_PERMISSION, body_html
from apps.messaging.choices import MessageStatus, OptOutSource
from apps.messaging.errors import MessageRedacted
from apps.messaging.filtering.runtime import check_content, compiled_filter
from apps.messaging.models import (
    BlockedRecipient,
    DeadLetter,
    DomainRule,
    FilterTerm,
    HeldMessage,
    Job,
    Message,
    OptOut,
    StopKeyword,
)
from apps.messaging.sealing import is_sealed, masked
from apps.messaging.selectors import messages_held_count
from apps.messaging.timeline import message_timeline
from apps.messaging.validation import validate_body


class FilterRuleAdmin(admin.ModelAdmin):
    """Shared by terms and domain rules: saves, deletes and (de)activation go through the filter-rule services."""

    list_editable = ("weight", "active")
    actions = ("activate", "deactivate")
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.filter_rule_save(rule=obj, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.filter_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for rule in queryset:
            services.filter_rule_delete(rule=rule, actor=request.user)

    @admin.action(description=_("Activate the selected rules"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = services.filter_rules_set_active(rules=queryset, active=True, actor=request.user)
        self.message_user(request, _("%(count)s activated.") % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Deactivate the selected rules"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = services.filter_rules_set_active(rules=queryset, active=False, actor=request.user)
        self.message_user(request, _("%(count)s deactivated.") % {"count": changed}, messages.SUCCESS)


class TryFilterForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 80}), label=_("Message body"))


@admin.register(FilterTerm)
class FilterTermAdmin(FilterRuleAdmin):
    list_display = ("term", "language", "category", "weight", "active", "note", "updated_at")
    list_filter = ("active", "language", "category")
    search_fields = ("term", "note")
    ordering = ("category", "-weight", "term")
    fields = ("term", "language", "category", "weight", "active", "note", "created_at", "updated_at")
    change_list_template = "admin/messaging/filterterm/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        try_view = self.admin_site.admin_view(self.try_filter_view)
        return [path("try/", try_view, name="messaging_filterterm_try"), *super().get_urls()]

    def try_filter_view(self, request: HttpRequest) -> HttpResponse:
        """Run the live filter (as the send path would) on a body staff paste in, and show how it was read."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryFilterForm(request.POST or None)
        result: dict[str, Any] = {}
        if request.method == "POST" and form.is_valid():
            body = form.cleaned_data["body"]
            try:
                checked = validate_body(body)
                result["segments"] = f"{checked.segments} ({checked.encoding}, {checked.units} units)"
            except ValidationFailed as error:
                result["body_error"] = f"{error.code}: {error.message}"
            analysis = compiled_filter.get().analyse(body)
            result["decision"] = check_content(body)
            result["tokens"] = analysis.tokens
            result["links"] = [link.host or link.text for link in analysis.links]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Try the content filter"),
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/messaging/try_filter.html", context)


@admin.register(DomainRule)
class DomainRuleAdmin(FilterRuleAdmin):
    list_display = ("domain", "kind", "weight", "brand", "active", "note", "updated_at")
    list_filter = ("active", "kind")
    search_fields = ("domain", "brand", "note")
    ordering = ("kind", "domain")
    fields = ("domain", "kind", "weight", "brand", "active", "note", "created_at", "updated_at")


class PhoneFormMixin:
    """Staff type numbers as people do; the list stores E.164."""

    unique_among: dict = {}  # the rows a number must be unique among (all of the list's by default)

    def clean_phone(self) -> str:
        try:
            e164 = normalize_phone(self.cleaned_data["phone"]).e164
        except DomainError as error:
            raise forms.ValidationError(str(error.message), code=error.code) from None
        # Unique by the number's keyed hash (the number itself is encrypted), which the form does not show.
        model = self._meta.model
        entries = model.objects.filter(phone_hash=blind_index(e164), **self.unique_among)
        if entries.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("This number is already on the %(list)s list.") % {"list": model._meta.verbose_name}, code="unique"
            )
        return e164


class OptOutForm(PhoneFormMixin, forms.ModelForm):
    class Meta:
        model = OptOut
        fields = ("phone", "note")

    # Staff add network-wide entries: a client's own opt-out of the same number is another entry.
    unique_among = {"organization__isnull": True}


class BlockedRecipientForm(PhoneFormMixin, forms.ModelForm):
    class Meta:
        model = BlockedRecipient
        fields = ("phone", "reason")


class PhoneListAdmin(admin.ModelAdmin):
    """Large tables: exact search by number (typed in any common form), no full counts, no per-row queries."""

    # Numbers are encrypted: one is found by its keyed hash (get_search_results).
    search_fields = ("=phone_hash",)
    search_help_text = _("Exact phone number, e.g. 012 345 678 or +85512345678.")
    show_full_result_count = False
    list_select_related = ("created_by",)
    list_per_page = 50

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        search_term = search_term.strip()
        if not search_term:
            return queryset, False
        try:
            search_term = normalize_phone(search_term, require_mobile=False, allowed_regions=[]).e164
        except DomainError:
            pass
        return queryset.filter(phone_hash=blind_index(search_term)), False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A listed number is never edited into another one: remove the entry and add the new number.
        return ("phone", "created_at", "created_by") if obj is not None else ()

    def remove(self, request: HttpRequest, phone: str) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.remove(request, obj.phone)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for entry in queryset:
            self.remove(request, entry.phone)


@admin.register(OptOut)
class OptOutAdmin(PhoneListAdmin):
    form = OptOutForm
    list_display = ("phone", "organization", "source", "created_at", "created_by", "note")
    list_filter = ("source", "created_at")
    list_select_related = ("created_by", "organization")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "source", "note") if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an opt-out is the recipient's request: it is added or removed, never edited

    def save_model(self, request: HttpRequest, obj: OptOut, form: Any, change: bool) -> None:
        saved = services.opt_out_add(
            phone=obj.phone, source=OptOutSource.STAFF, actor=request.user, note=form.cleaned_data["note"]
        )
        obj.pk = saved.pk

    def remove(self, request: HttpRequest, phone: str, organization_id: int | None = None) -> None:
        services.opt_out_remove(phone=phone, actor=request.user, organization_id=organization_id)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.remove(request, obj.phone, obj.organization_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for entry in queryset:
            self.remove(request, entry.phone, entry.organization_id)


@admin.register(StopKeyword)
class StopKeywordAdmin(admin.ModelAdmin):
    """Clients' own stop words: a reply that is exactly one opts its sender out of that client's messages."""

    list_display = ("keyword", "organization", "created_at")
    search_fields = ("keyword", "organization__name")
    list_select_related = ("organization",)
    raw_id_fields = ("organization",)
    fields = ("organization", "keyword")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # add or remove, audited

    def save_model(self, request: HttpRequest, obj: StopKeyword, form: Any, change: bool) -> None:
        saved = services.stop_keyword_add(organization=obj.organization, keyword=obj.keyword, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: StopKeyword) -> None:
        services.stop_keyword_remove(keyword=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for keyword in queryset:
            services.stop_keyword_remove(keyword=keyword, actor=request.user)


@admin.register(BlockedRecipient)
class BlockedRecipientAdmin(PhoneListAdmin):
    form = BlockedRecipientForm
    list_display = ("phone", "reason", "created_at", "created_by")
    list_filter = ("created_at",)

    def save_model(self, request: HttpRequest, obj: BlockedRecipient, form: Any, change: bool) -> None:
        saved = services.blocked_recipient_add(phone=obj.phone, reason=obj.reason, actor=request.user)
        obj.pk = saved.pk

    def remove(self, request: HttpRequest, phone: str) -> None:
        services.blocked_recipient_remove(phone=phone, actor=request.user)


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    can_delete = False
    fields = (
        "attempt",
        "status",
        "provider",
        "sim",
        "cross_carrier",
        "offered_at",
        "deadline",
        "sent_at",
        "end_reason",
    )
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ExpiringChangeList(ChangeList):
    """A message list page whose held or queued messages past their validity read `expired` (see
    apps.messaging.services.expiry). When one expires, the page is read again: it may have left this list (the
    moderation queue, a status filter)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if services.messages_expire_overdue(messages=self.result_list):
            super().get_results(request)


class MessageAdminBase(CsvExportMixin, admin.ModelAdmin):
    """Messages for staff: fast on millions of rows (no full counts, related rows joined, indexed searches)."""

    list_display = (
        "id",
        "organization",
        "to",
        "carrier",
        "status",
        "status_reason",
        "priority",
        "segments",
        "price_held",
        "price_charged",
        "created_at",
    )
    list_filter = ("status", "priority", "carrier", ("created_at", DateRangeFilter))
    # No bodies or callback URLs in exports: content stays in the system (see the content permission).
    csv_fields = (
        "id", "organization_id", "organization__name", "to", "carrier", "status", "status_reason", "priority",
        "segments", "price_held", "price_charged", "reference", "attempts", "created_at", "assigned_at", "sent_at",
        "delivered_at", "finished_at",
    )  # fmt: skip
    # The recipient is encrypted: a number is looked up by its keyed hash (get_search_results).
    search_fields = ("=id", "=reference", "=to_hash")
    list_select_related = ("organization",)
    show_full_result_count = False
    date_hierarchy = None
    ordering = ("-created_at",)
    inlines = [JobInline]
    exclude = ("body",)  # shown as `body_shown`: codes masked, filter matches marked
    readonly_fields = [
        "timeline_link",
        "body_shown",
        *(field.name for field in Message._meta.fields if field.name != "body"),
    ]

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        view = self.admin_site.admin_view(self.timeline_view)
        name = f"{opts.app_label}_{opts.model_name}_timeline"
        return [path("<int:object_id>/timeline/", view, name=name), *super().get_urls()]

    @admin.display(description=_("timeline"))
    def timeline_link(self, message: Message) -> str:
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_timeline", args=[message.pk])
        return format_html('<a href="{}">{}</a>', url, _("Everything that happened to this message, to the second"))

    def timeline_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Submit, each job (offer, push, acknowledgement, send, end), the phones' reports, webhook deliveries,
        ledger transfers and staff decisions, oldest first (apps.messaging.timeline)."""
        message = self.get_object(request, str(object_id))
        if message is None or not self.has_view_permission(request, message):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": message,
            "title": _("Timeline of message %(id)s") % {"id": message.pk},
            "entries": message_timeline(message),
        }
        return TemplateResponse(request, "admin/messaging/message_timeline.html", context)

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None) -> list[str]:
        # The viewer's permission goes on this request's own message object (the admin is shared by all requests).
        if obj is not None:
            obj.viewer_sees_content = request.user.has_perm(CONTENT_PERMISSION)
        return super().get_readonly_fields(request, obj)

    @admin.display(description=_("body"))
    def body_shown(self, message: Message) -> str:
        if is_sealed(message.body):
            return masked(message.body)  # sign-in codes and sensitive bodies: sealed, never shown to staff
        can_view_content = getattr(message, "viewer_sees_content", False)  # masked unless known to be allowed
        return body_html(message.body, filter_reasons=message.filter_reasons, can_view_content=can_view_content)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ExpiringChangeList

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Message | None:
        message = super().get_object(request, object_id, from_field)
        if message is not None:
            services.messages_expire_overdue(messages=[message])
        return message

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        search_term = search_term.strip()
        if not search_term:
            # An empty box lists everything (a reference lookup here would hide every message that has one).
            return queryset, False
        # Staff paste numbers as people write them; look them up by their E.164 form.
        try:
            search_term = normalize_phone(search_term, require_mobile=False, allowed_regions=[]).e164
        except ValidationFailed:
            pass
        if not search_term.lstrip("+").isdigit():
            return queryset.filter(reference=search_term), False
        found = Q(reference=search_term) | Q(to_hash=blind_index(search_term))
        if search_term.isdigit() and int(search_term) < 2**63:
            found |= Q(id=int(search_term))
        return queryset.filter(found), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(MessageAdminBase):
    actions = ("requeue",)

    @admin.action(description=_("Requeue the selected failed or expired messages"), permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: QuerySet) -> None:
        _requeue(self, request, queryset)


@admin.register(DeadLetter)
class DeadLetterAdmin(MessageAdminBase):
    actions = ("requeue",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(status__in=[MessageStatus.FAILED, MessageStatus.EXPIRED])

    @admin.action(description=_("Requeue the selected messages"), permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: QuerySet) -> None:
        _requeue(self, request, queryset)


def _requeue(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    done = erased = 0
    for message in queryset.filter(status__in=[MessageStatus.FAILED, MessageStatus.EXPIRED]):
        try:
            services.message_requeue(message=message, actor=request.user)
        except MessageRedacted:
            erased += 1  # its body is gone (retention): nothing to send
            continue
        done += 1
    model_admin.message_user(request, _("%(count)s message(s) requeued.") % {"count": done})
    if erased:
        model_admin.message_user(
            request,
            _("%(count)s message(s) not requeued: their text was erased (retention).") % {"count": erased},
            messages.WARNING,
        )


class ModerationActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=200, label=_("Reason"), help_text=_("Required to reject."))


class ModerationForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = forms.CharField(required=False, max_length=200, label=_("Reason"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason", "").strip():
            raise forms.ValidationError(_("Say why the message is rejected."), code="reason_required")
        return cleaned


admin_badge_register("messaging.heldmessage", messages_held_count)


@admin.register(HeldMessage)
class HeldMessageAdmin(MessageAdminBase):
    """The moderation queue: Approve / Reject (with a reason, kept in the audit log) on each held message's page,
    where the terms the filter matched are highlighted, or on several at once from the list."""

    list_display = ("id", "organization", "to", "filter_score", "reasons", "created_at", "expires_at")
    actions = ("approve", "reject")
    action_form = ModerationActionForm
    change_form_template = "admin/messaging/heldmessage/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(status=MessageStatus.HELD)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.moderate_view)
        return [path("<int:object_id>/moderate/", view, name="messaging_heldmessage_moderate"), *super().get_urls()]

    @admin.display(description=_("reasons"))
    def reasons(self, message: Message) -> str:
        return ", ".join(reason.get("code", "") for reason in message.filter_reasons)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {"moderation_form": ModerationForm(), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def moderate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST decision=approve|reject with a reason (required to reject), from the held message's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        message = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = ModerationForm(request.POST)
        if not form.is_valid():
            for error in form.non_field_errors() or [_("Choose approve or reject.")]:
                self.message_user(request, error, messages.ERROR)
            return redirect("admin:messaging_heldmessage_change", object_id)
        approve = form.cleaned_data["decision"] == "approve"
        services.message_moderate(
            message=message, approve=approve, actor=request.user, note=form.cleaned_data["reason"]
        )
        if approve:
            self.message_user(request, _("Message %(id)s approved: it is being sent.") % {"id": message.pk})
        else:
            self.message_user(request, _("Message %(id)s rejected.") % {"id": message.pk}, messages.WARNING)
        return redirect("admin:messaging_heldmessage_changelist")

    @admin.action(description=_("Approve: send the selected messages"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        note = request.POST.get("reason", "").strip()
        for message in queryset:
            services.message_moderate(message=message, approve=True, actor=request.user, note=note)
        self.message_user(request, _("Approved."))

    @admin.action(description=_("Reject the selected messages (give a reason)"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        note = request.POST.get("reason", "").strip()
        if not note:
            self.message_user(request, _("Say why the messages are rejected (the reason box)."), messages.ERROR)
            return
        for message in queryset:
            services.message_moderate(message=message, approve=False, actor=request.user, note=note)
        self.message_user(request, _("Rejected."), level=messages.WARNING)


@admin.register(Job)
class JobAdmin(CsvExportMixin, admin.ModelAdmin):
    """Jobs for staff. An acknowledged job nobody reported on (accepted, or `unknown` once its lease ended) is only
    released by its phone's report or by staff here, after checking with the provider: the actions call
    `services.job_resolve`, which is audited."""

    list_display = ("id", "message", "provider", "status", "attempt", "cross_carrier", "offered_at", "deadline")
    actions = ("resolve_sent", "resolve_not_sent")
    list_filter = ("status", "cross_carrier", ("offered_at", DateRangeFilter))
    search_fields = ("=id", "=message__id")
    csv_fields = (
        "id", "message_id", "provider_id", "sim_id", "status", "attempt", "cross_carrier", "sticky", "offered_at",
        "accepted_at", "sent_at", "finished_at", "end_reason", "push_attempts",
    )  # fmt: skip
    list_select_related = ("message", "provider")
    show_full_result_count = False
    readonly_fields = [field.name for field in Job._meta.fields if field.name != "trace_token"]
    exclude = ("trace_token",)

    @admin.action(description=_("Resolve: the phone sent the SMS (wait for delivery)"), permissions=["change"])
    def resolve_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, services.Resolution.SENT)

    @admin.action(description=_("Resolve: the phone did not send the SMS (send again)"), permissions=["change"])
    def resolve_not_sent(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, services.Resolution.NOT_SENT)

    def _resolve(self, request: HttpRequest, queryset: QuerySet, outcome: str) -> None:
        resolved, refused = 0, []
        for job_id in queryset.values_list("pk", flat=True):
            try:
                services.job_resolve(job_id=job_id, outcome=outcome, actor=request.user)
                resolved += 1
            except DomainError as error:
                refused.append(_("job %(id)s: %(error)s") % {"id": job_id, "error": error.message})
        if resolved:
            self.message_user(
                request,
                _("%(count)s resolved as %(outcome)s.") % {"count": resolved, "outcome": outcome},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
