from django.db import models

from apps.providers.choices import MatchPriority


class Encoding(models.TextChoices):
    """How an SMS body goes over the air; it decides how many characters fit in a segment."""

    GSM7 = "gsm7", "GSM-7"
    UCS2 = "ucs2", "UCS-2"


class TermLanguage(models.TextChoices):
    KHMER = "km", "ខ្មែរ"
    ENGLISH = "en", "English"


class TermCategory(models.TextChoices):
    """What a filter term signals. A match is reported as the reason code `term_<category>`.

    `urgency` and `credential` terms usually carry little or no weight of their own: they feed the phishing rule
    (a link + urgency + a credential word together).
    """

    SCAM = "scam", "Scam"
    GAMBLING = "gambling", "Gambling"
    LOAN_SHARK = "loan_shark", "Loan shark"
    PHISHING = "phishing", "Phishing"
    ADULT = "adult", "Adult"
    URGENCY = "urgency", "Urgency (phishing signal)"
    CREDENTIAL = "credential", "Credential (phishing signal)"


class DomainRuleKind(models.TextChoices):
    SHORTENER = "shortener", "Link shortener"
    BLOCKED = "blocked", "Blocked domain"
    # A real bank's or wallet's domain: never scored, and its brand is what look-alike domains are compared with.
    OFFICIAL = "official", "Official brand domain"


class FilterAction(models.TextChoices):
    ALLOW = "allow", "Allow"
    HOLD = "hold", "Hold for review"
    REJECT = "reject", "Reject"


class OptOutSource(models.TextChoices):
    STOP_KEYWORD = "stop_keyword", "STOP reply from the recipient"
    STAFF = "staff", "Added by staff"
    API = "api", "Requested through the API"


class MessageRoute(models.TextChoices):
    """Which phones may carry a message (apps.messaging.routes): any, only trusted enough ones (it looks like a
    one-time code), or only the trusted pool (PeerPower's own codes, a client's `sensitive` message)."""

    OPEN = "open", "Any provider"
    VETTED = "vetted", "Providers at the code trust level"
    TRUSTED = "trusted", "Trusted pool only"


class RecipientBlockReason(models.TextChoices):
    """Stable codes the send API answers with (422) when a recipient may not be messaged."""

    OPTED_OUT = "recipient_opted_out", "The recipient opted out"
    BLOCKED = "recipient_blocked", "The recipient is blocked"


class MessageStatus(models.TextChoices):
    """Where a message is. `apps.messaging.state` holds the one table of legal moves between these."""

    HELD = "held", "Held for review"
    QUEUED = "queued", "Queued"
    ASSIGNED = "assigned", "Assigned to a provider"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    # Final: the phone acknowledged the job and never said whether it sent the SMS (nor did staff). Not sent again
    # (that could send it twice), not charged, not rewarded.
    UNKNOWN = "unknown", "Outcome unknown"


# A message's priority is what matching weighs (low never falls back cross-carrier); each priority also has its
# own Celery queue, so high-priority work never waits behind bulk.
Priority = MatchPriority


class JobStatus(models.TextChoices):
    """A lease of one message to one provider's SIM. Offered, accepted and sent are live: at most one per message."""

    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted by the phone"
    SENT = "sent", "Sent by the phone"
    # The lease ended after the phone acknowledged, without a report: the phone is asked whether it sent the SMS
    # (until `deadline`, JOB_UNKNOWN_ANSWER_SECONDS later) and the job is never handed to another phone meanwhile.
    UNKNOWN = "unknown", "Outcome unknown, asking the phone"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Lease expired"
    CANCELLED = "cancelled", "Cancelled"


LIVE_JOB_STATUSES = (JobStatus.OFFERED, JobStatus.ACCEPTED, JobStatus.SENT)
# Jobs that hold their message (at most one per message): the live ones, and one whose outcome the phone is asked.
HOLDING_JOB_STATUSES = (*LIVE_JOB_STATUSES, JobStatus.UNKNOWN)
