"""Client vetting: the sandbox application a client fills through the API, staff decisions on it, and the staff
plans that bound an organisation's limits (docs/sandbox.md).

A new organisation is sandboxed (`ClientOrganization.approved_at` empty). Its owner fills an application and submits
it; staff approve it (the organisation goes live), request changes (the owner edits and submits again) or reject it
(it stays in the sandbox). Every step is audited; a decision also publishes `ClientApplicationDecided` (a webhook
event, through delivery) and emails the organisation's contact address after commit.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.accounts.choices import ApplicationDecision, ApplicationStatus
from apps.accounts.errors import ApiKeyCountLimit, ApiKeyLimitAbovePlan, ApplicationLocked, ApplicationNotSubmitted
from apps.accounts.events import ClientApplicationDecided
from apps.accounts.models import ApiKey, ClientApplication, ClientOrganization, ClientPlan
from apps.audit.services import audit_record
from apps.core.events import publish

logger = logging.getLogger(__name__)

APPLICATION_FIELDS = ("business_name", "registration_number", "use_case", "sample_messages", "expected_daily_volume")
EDITABLE_STATUSES = (ApplicationStatus.DRAFT, ApplicationStatus.CHANGES_REQUESTED)
DECISION_STATUS = {
    ApplicationDecision.APPROVE: ApplicationStatus.APPROVED,
    ApplicationDecision.REQUEST_CHANGES: ApplicationStatus.CHANGES_REQUESTED,
    ApplicationDecision.REJECT: ApplicationStatus.REJECTED,
}


@dataclass(frozen=True)
class PlanLimits:
    """The limits an organisation's plan (or the defaults) allows."""

    key_rate_per_second: int
    key_rate_per_day: int
    organization_rate_per_day: int
    max_api_keys: int


def plan_limits(organization: ClientOrganization) -> PlanLimits:
    """The organisation's staff plan, or the default limits when staff gave it none. Reads `organization.plan`
    (select it with the organisation on hot paths)."""
    plan = organization.plan if organization.plan_id else None
    if plan is None:
        return PlanLimits(
            key_rate_per_second=settings.MESSAGE_RATE_PER_SECOND,
            key_rate_per_day=settings.MESSAGE_QUOTA_PER_DAY,
            organization_rate_per_day=settings.CLIENT_PLAN_DEFAULT_ORGANIZATION_PER_DAY,
            max_api_keys=settings.CLIENT_PLAN_DEFAULT_MAX_API_KEYS,
        )
    return PlanLimits(
        key_rate_per_second=plan.key_rate_per_second,
        key_rate_per_day=plan.key_rate_per_day,
        organization_rate_per_day=plan.organization_rate_per_day,
        max_api_keys=plan.max_api_keys,
    )


def api_key_rates_check(
    *, organization: ClientOrganization, rate_per_second: int | None, rate_per_day: int | None
) -> PlanLimits:
    """A key's own limits may be at or under the organisation's plan, never above (400 `api_key_limit_above_plan`
    with the plan's figures in `details.maximum`). Returns the plan's limits."""
    limits = plan_limits(organization)
    too_high = {}
    if rate_per_second is not None and rate_per_second > limits.key_rate_per_second:
        too_high["rate_per_second"] = limits.key_rate_per_second
    if rate_per_day is not None and rate_per_day > limits.key_rate_per_day:
        too_high["rate_per_day"] = limits.key_rate_per_day
    if too_high:
        raise ApiKeyLimitAbovePlan(details={"maximum": too_high})
    return limits


def api_key_limits_check(
    *, organization: ClientOrganization, rate_per_second: int | None, rate_per_day: int | None
) -> None:
    """A client may set its keys' limits at or under its plan's, never above (400 `api_key_limit_above_plan`), and
    hold no more active keys than the plan allows (409 `api_key_limit_reached`). Call it under the organisation's
    row lock (`organization_lock`), so two concurrent creations cannot both take the last place."""
    limits = api_key_rates_check(organization=organization, rate_per_second=rate_per_second, rate_per_day=rate_per_day)
    active = ApiKey.objects.filter(organization=organization, revoked_at__isnull=True).count()
    if active >= limits.max_api_keys:
        raise ApiKeyCountLimit(details={"max_api_keys": limits.max_api_keys})


def client_application_save(*, organization: ClientOrganization, actor: Any, **fields: Any) -> ClientApplication:
    """Create or change the organisation's application while it is a draft or changes were requested."""
    fields = {name: value for name, value in fields.items() if name in APPLICATION_FIELDS}
    with transaction.atomic():
        application = ClientApplication.objects.select_for_update().filter(organization=organization).first()
        if application is None:
            application = ClientApplication.objects.create(organization=organization, **fields)
            audit_record(actor=actor, action="client_application.created", target=application, after=_public(fields))
            return application
        if application.status not in EDITABLE_STATUSES:
            raise ApplicationLocked(details={"status": application.status})
        for name, value in fields.items():
            setattr(application, name, value)
        application.save()
        audit_record(actor=actor, action="client_application.updated", target=application, after=_public(fields))
    return application


def client_application_submit(*, application: ClientApplication, actor: Any) -> ClientApplication:
    """Send the application to staff for review; it cannot be changed until they decide."""
    with transaction.atomic():
        submitted = ClientApplication.objects.filter(pk=application.pk, status__in=EDITABLE_STATUSES).update(
            status=ApplicationStatus.SUBMITTED, submitted_at=timezone.now()
        )
        if submitted != 1:
            application.refresh_from_db(fields=["status"])
            raise ApplicationLocked(details={"status": application.status})
        audit_record(actor=actor, action="client_application.submitted", target=application)
    application.refresh_from_db()
    return application


def client_application_decide(
    *, application: ClientApplication, decision: str, actor: Any, note: str = ""
) -> ClientApplication:
    """Staff: approve (the organisation leaves the sandbox), request changes, or reject a submitted application."""
    status = DECISION_STATUS[ApplicationDecision(decision)]
    now = timezone.now()
    with transaction.atomic():
        decided = ClientApplication.objects.filter(pk=application.pk, status=ApplicationStatus.SUBMITTED).update(
            status=status, decided_at=now, decided_by=actor, staff_note=note
        )
        if decided != 1:
            application.refresh_from_db(fields=["status"])
            raise ApplicationNotSubmitted(details={"status": application.status})
        if status == ApplicationStatus.APPROVED:
            ClientOrganization.objects.filter(pk=application.organization_id, approved_at__isnull=True).update(
                approved_at=now
            )
        audit_record(
            actor=actor,
            action=f"client_application.{status}",
            target=application,
            before={"status": ApplicationStatus.SUBMITTED},
            after={"status": status, "note": note},
        )
        publish(
            ClientApplicationDecided(
                organization_id=application.organization_id, application_id=application.pk, status=status, note=note
            )
        )
        organization = ClientOrganization.objects.get(pk=application.organization_id)
        if organization.contact_email:
            transaction.on_commit(lambda: _email_decision(organization=organization, status=status, note=note))
    application.refresh_from_db()
    return application


def client_go_live(
    *, organization: ClientOrganization, actor: Any, reason: str, plan: ClientPlan | None = None
) -> None:
    """Approve an organisation without an application, optionally on a plan: for staff's own tools (the demo, the
    simulator, benchmarks) that create their clients themselves. Audited like a decision."""
    with transaction.atomic():
        changes: dict[str, Any] = {}
        if organization.approved_at is None:
            changes["approved_at"] = timezone.now()
        if plan is not None and organization.plan_id != plan.pk:
            changes["plan"] = plan
        if not changes:
            return
        for name, value in changes.items():
            setattr(organization, name, value)
        organization.save(update_fields=list(changes))
        audit_record(
            actor=actor, action="client.went_live", target=organization, after={"reason": reason, "plan": str(plan)}
        )


def client_plan_assign(*, organization: ClientOrganization, plan: ClientPlan | None, actor: Any) -> None:
    """Staff put an organisation on a plan (None: the defaults); its keys' limits are capped by it at once."""
    with transaction.atomic():
        before = str(organization.plan) if organization.plan_id else None
        ClientOrganization.objects.filter(pk=organization.pk).update(plan=plan)
        organization.plan = plan
        audit_record(
            actor=actor,
            action="client.plan_changed",
            target=organization,
            before={"plan": before},
            after={"plan": str(plan) if plan else None},
        )


def client_plan_ensure(*, name: str, **limits: int) -> ClientPlan:
    """The plan called `name`, created with `limits` if missing (staff tools and seeding; the admin edits plans)."""
    plan, _created = ClientPlan.objects.get_or_create(name=name, defaults=limits)
    return plan


INTERNAL_PLAN = "Internal tools"


def client_plan_internal() -> ClientPlan:
    """The plan of staff's own clients (the simulator's, benchmarks'): the highest limits the API has ever allowed."""
    return client_plan_ensure(
        name=INTERNAL_PLAN,
        key_rate_per_second=10_000,
        key_rate_per_day=100_000_000,
        organization_rate_per_day=2_000_000_000,
        max_api_keys=100,
    )


def _public(fields: dict[str, Any]) -> dict[str, Any]:
    # The audit row keeps what changed, not the sample messages' full text (they can be long).
    return {name: value for name, value in fields.items() if name != "sample_messages"} | (
        {"sample_messages": len(fields["sample_messages"])} if "sample_messages" in fields else {}
    )


SUBJECTS = {
    ApplicationStatus.APPROVED: gettext_noop("Your PeerPower organisation is approved"),
    ApplicationStatus.CHANGES_REQUESTED: gettext_noop("Your PeerPower application needs changes"),
    ApplicationStatus.REJECTED: gettext_noop("Your PeerPower application was not approved"),
}


def _email_decision(*, organization: ClientOrganization, status: str, note: str) -> None:
    """The notice after commit; a mail server being down must not undo the decision (the webhook event is kept)."""
    body = _("Organisation: %(name)s\nDecision: %(status)s\n\n%(note)s") % {
        "name": organization.name,
        "status": ApplicationStatus(status).label,
        "note": note,
    }
    try:
        send_mail(_(SUBJECTS[status]), body, None, [organization.contact_email])
    except Exception:  # logged; the decision stands
        logger.exception("application decision email to organisation %s failed", organization.pk)
