from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.providers.choices import MatchPriority


class Encoding(models.TextChoices):
    """How an SMS body goes over the air; it decides how many characters fit in a segment."""

    GSM7 = "gsm7", _("GSM-7")
    UCS2 = "ucs2", _("UCS-2")


class TermLanguage(models.TextChoices):
    KHMER = "km", _("ខ្មែរ")
    ENGLISH = "en", _("English")


class TermCategory(models.TextChoices):
    """What a filter term signals. A match is reported as the reason code `term_<category>`.

    `urgency` and `credential` terms usually carry little or no weight of their own: they feed the phishing rule
    (a link + urgency + a credential word together).
    """

    SCAM = "scam", _("Scam")
    GAMBLING = "gambling", _("Gambling")
    LOAN_SHARK = "loan_shark", _("Loan shark")
    PHISHING = "phishing", _("Phishing")
    ADULT = "adult", _("Adult")
    URGENCY = "urgency", _("Urgency (phishing signal)")
    CREDENTIAL = "credential", _("Credential (phishing signal)")


class DomainRuleKind(models.TextChoices):
    SHORTENER = "shortener", _("Link shortener")
    BLOCKED = "blocked", _("Blocked domain")
    # A real bank's or wallet's domain: never scored, and its brand is what look-alike domains are compared with.
    OFFICIAL = "official", _("Official brand domain")


class FilterAction(models.TextChoices):
    ALLOW = "allow", _("Allow")
    HOLD = "hold", _("Hold for review")
    REJECT = "reject", _("Reject")


class OptOutSource(models.TextChoices):
    STOP_KEYWORD = "stop_keyword", _("STOP reply from the recipient")
    STAFF = "staff", _("Added by staff")
    API = "api", _("Requested through the API")


class MessageRoute(models.TextChoices):
    """Which phones may carry a message (apps.messaging.routes): any, only trusted enough ones (it looks like a
    one-time code), or only the trusted pool (PeerPower's own codes, a client's `sensitive` message)."""

    OPEN = "open", _("Any provider")
    VETTED = "vetted", _("Providers at the code trust level")
    TRUSTED = "trusted", _("Trusted pool only")


class RecipientBlockReason(models.TextChoices):
    """Stable codes the send API answers with (422) when a recipient may not be messaged."""

    OPTED_OUT = "recipient_opted_out", _("The recipient opted out")
    BLOCKED = "recipient_blocked", _("The recipient is blocked")


class MessageStatus(models.TextChoices):
    """Where a message is. `apps.messaging.state` holds the one table of legal moves between these."""

    HELD = "held", _("Held for review")
    QUEUED = "queued", _("Queued")
    ASSIGNED = "assigned", _("Assigned to a provider")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    # Final: the phone acknowledged the job and never said whether it sent the SMS (nor did staff). Not sent again
    # (that could send it twice), not charged, not rewarded.
    UNKNOWN = "unknown", _("Outcome unknown")


# A message's priority is what matching weighs (low never falls back cross-carrier); each priority also has its
# own Celery queue, so high-priority work never waits behind bulk.
Priority = MatchPriority


class JobStatus(models.TextChoices):
    """A lease of one message to one provider's SIM. Offered, accepted and sent are live: at most one per message."""

    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted by the phone")
    SENT = "sent", _("Sent by the phone")
    # The lease ended after the phone acknowledged, without a report: the phone is asked whether it sent the SMS
    # (until `deadline`, JOB_UNKNOWN_ANSWER_SECONDS later) and the job is never handed to another phone meanwhile.
    UNKNOWN = "unknown", _("Outcome unknown, asking the phone")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Lease expired")
    CANCELLED = "cancelled", _("Cancelled")


LIVE_JOB_STATUSES = (JobStatus.OFFERED, JobStatus.ACCEPTED, JobStatus.SENT)
# Jobs that hold their message (at most one per message): the live ones, and one whose outcome the phone is asked.
HOLDING_JOB_STATUSES = (*LIVE_JOB_STATUSES, JobStatus.UNKNOWN)
