"""The provider admin page's panels: fraud strikes, earnings and payouts, recent jobs.

Providers cannot read delivery, incentives or messaging (they sit above it), so the back office, which reads every
app through its selectors, registers these with `apps.providers.admin_panels` when it starts.
"""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.backoffice.figures import ppt
from apps.delivery.fraud import fraud_strikes_standing
from apps.delivery.selectors import fraud_flags_of_provider
from apps.incentives.payouts.choices import PayoutStatus
from apps.incentives.selectors import earnings_by_provider, payouts_of_provider_by_status
from apps.messaging.selectors import jobs_of_provider_recent
from apps.providers.admin_panels import Cell, ProviderPanel, provider_panel_register
from apps.providers.models import Provider

RECENT = 20  # rows of strikes and of jobs: enough to see a pattern, few enough to read


def _change(model: str, pk: int) -> str:
    return reverse(f"admin:{model}_change", args=[pk])


def strikes_panel(provider: Provider) -> ProviderPanel:
    """Strikes that count toward suspension now, then the latest flags with what became of each."""
    window = settings.FRAUD_STRIKE_WINDOW_DAYS
    since = timezone.now() - timedelta(days=window)
    rows = []
    for flag in fraud_flags_of_provider(provider_id=provider.pk, limit=RECENT):
        if not flag.strike:
            state = _("warning")
        elif flag.cleared_at:
            state = _("cleared")
        elif flag.created_at < since:
            state = _("expired")
        else:
            state = _("counting")
        job = Cell(flag.job_id, _change("messaging_job", flag.job_id)) if flag.job_id else Cell("")
        rows.append(
            [
                Cell(flag.created_at, _change("delivery_fraudflag", flag.pk)),
                Cell(flag.get_rule_display()),
                job,
                Cell(state),
            ]
        )
    standing = fraud_strikes_standing(provider_id=provider.pk, since=since).count()
    return ProviderPanel(
        title=_("Fraud strikes"),
        summary=[
            (_("Strikes counting (last %(days)s days)") % {"days": window}, standing),
            (_("Strikes that suspend the provider"), settings.FRAUD_STRIKES_TO_SUSPEND),
        ],
        headers=[_("When"), _("Rule"), _("Job"), _("State")],
        rows=rows,
        empty=_("No fraud flags."),
    )


def earnings_panel(provider: Provider) -> ProviderPanel:
    """Rewards (pending: inside their verification window; posted: paid into the provider's balance) and payouts."""
    month_ago = timezone.now() - timedelta(days=30)
    ever = earnings_by_provider(provider_ids=[provider.pk], since=provider.created_at).get(provider.pk, {})
    month = earnings_by_provider(provider_ids=[provider.pk], since=month_ago).get(provider.pk, {})
    summary = [
        (_("Rewards pending (PPT)"), ppt(ever.get("pending", 0))),
        (_("Rewards posted (PPT)"), ppt(ever.get("posted", 0))),
        (_("Rewards of the last 30 days (PPT)"), ppt(month.get("pending", 0) + month.get("posted", 0))),
    ]
    payouts = payouts_of_provider_by_status(provider_id=provider.pk)
    rows = [
        [
            Cell(label, _payouts_list(provider, status)),
            Cell(payouts[status]["count"]),
            Cell(ppt(payouts[status]["amount"])),
        ]
        for status, label in PayoutStatus.choices
        if status in payouts
    ]
    return ProviderPanel(
        title=_("Earnings and payouts"),
        summary=summary,
        headers=[_("Payout status"), _("Payouts"), _("Amount (PPT)")],
        rows=rows,
        empty=_("No payouts."),
    )


def _payouts_list(provider: Provider, status: str) -> str:
    return f"{reverse('admin:incentives_payout_changelist')}?provider__id__exact={provider.pk}&status__exact={status}"


def jobs_panel(provider: Provider) -> ProviderPanel:
    """The latest jobs with their status, each linked to the job and to its message's timeline."""
    rows = [
        [
            Cell(job.pk, _change("messaging_job", job.pk)),
            Cell(job.message_id, reverse("admin:messaging_message_timeline", args=[job.message_id])),
            Cell(job.get_status_display()),
            Cell(job.sim.get_carrier_display()),
            Cell(job.attempt),
            Cell(job.offered_at),
            Cell(job.finished_at or ""),
        ]
        for job in jobs_of_provider_recent(provider_id=provider.pk, limit=RECENT)
    ]
    return ProviderPanel(
        title=_("Recent jobs"),
        headers=[
            _("Job"),
            _("Message timeline"),
            _("Status"),
            _("SIM carrier"),
            _("Attempt"),
            _("Offered"),
            _("Finished"),
        ],
        rows=rows,
        empty=_("No jobs yet."),
    )


def register() -> None:
    for builder in (strikes_panel, earnings_panel, jobs_panel):
        provider_panel_register(builder)
