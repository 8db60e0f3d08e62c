"""A message's timeline for staff: everything that happened to it, to the second, from every app that keeps a part.

Messaging keeps the message, its jobs (offer, push, acknowledgement, send, end) and its hold's ledger transfers; the
audit log keeps staff decisions; delivery (above messaging) keeps the phones' reports and the webhook deliveries, and
adds them through `timeline_source` when it starts. The admin shows the result on each message's page.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from django.utils.translation import gettext as _

from apps.audit.models import AuditLog
from apps.messaging.models import Job, Message
from apps.tokens.models import Transfer


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str  # message, job, push, report, webhook, ledger, audit
    what: str
    detail: str = ""


Source = Callable[[Message], Iterable[TimelineEntry]]
SOURCES: list[Source] = []


def timeline_source(source: Source) -> Source:
    """Register a function giving a message's entries of one kind (apps above messaging call this in `ready`)."""
    if source not in SOURCES:
        SOURCES.append(source)
    return source


def message_timeline(message: Message) -> list[TimelineEntry]:
    """Every entry of every source, oldest first (ties in the order the sources and their entries came)."""
    return sorted(chain.from_iterable(source(message) for source in SOURCES), key=lambda entry: entry.at)


@timeline_source
def _message_entries(message: Message) -> Iterable[TimelineEntry]:
    # Written in the staff member's language (the admin's active one); the sources' own names and codes stay as stored.
    detail = _("%(segments)d segment(s), %(priority)s") % {
        "segments": message.segments,
        "priority": message.get_priority_display(),
    }
    yield TimelineEntry(message.created_at, "message", _("submitted"), detail)
    if message.scheduled_at:
        yield TimelineEntry(message.scheduled_at, "message", _("scheduled for"))
    for name, what in (("assigned_at", _("assigned")), ("sent_at", _("sent")), ("delivered_at", _("delivered"))):
        if at := getattr(message, name):
            yield TimelineEntry(at, "message", what)
    if message.finished_at:
        final = _("final: %(status)s") % {"status": message.get_status_display()}
        yield TimelineEntry(message.finished_at, "message", final, message.status_reason)


@timeline_source
def _job_entries(message: Message) -> Iterable[TimelineEntry]:
    for job in Job.objects.filter(message=message).order_by("attempt"):
        who = _("job %(job)s (attempt %(attempt)s), provider %(provider)s, SIM %(sim)s") % {
            "job": job.pk,
            "attempt": job.attempt,
            "provider": job.provider_id,
            "sim": job.sim_id,
        }
        lease = _("%(who)s; lease until %(time)s") % {"who": who, "time": f"{job.deadline:%H:%M:%S}"}
        yield TimelineEntry(job.offered_at, "job", _("offered"), lease)
        if job.last_pushed_at:
            pushed = _("pushed (%(attempts)d attempt(s))") % {"attempts": job.push_attempts}
            yield TimelineEntry(job.last_pushed_at, "push", pushed, job.last_push_error or who)
        if job.accepted_at:
            yield TimelineEntry(job.accepted_at, "job", _("acknowledged"), who)
        if job.sent_at:
            yield TimelineEntry(job.sent_at, "job", _("sent"), who)
        if job.finished_at:
            ended = _("ended: %(status)s") % {"status": job.get_status_display()}
            yield TimelineEntry(job.finished_at, "job", ended, job.end_reason)


@timeline_source
def _ledger_entries(message: Message) -> Iterable[TimelineEntry]:
    for transfer in Transfer.objects.filter(message_id=message.pk).order_by("created_at", "id"):
        yield TimelineEntry(
            transfer.created_at,
            "ledger",
            _("ledger %(id)s (%(kind)s, %(status)s)")
            % {"id": transfer.id, "kind": transfer.get_kind_display(), "status": transfer.get_status_display()},
            (_("%(amount)s units") % {"amount": transfer.amount} + f", {transfer.reason}").rstrip(", "),
        )


@timeline_source
def _audit_entries(message: Message) -> Iterable[TimelineEntry]:
    entries = AuditLog.objects.filter(target_type=Message._meta.label_lower, target_id=str(message.pk))
    for entry in entries.select_related("actor").order_by("created_at", "id"):
        note = (entry.after or {}).get("note", "")
        who = entry.actor or entry.actor_label
        yield TimelineEntry(entry.created_at, "audit", entry.action, f"{who} {note}".strip())
