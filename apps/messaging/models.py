import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import BlindIndexField, EncryptedCharField, EncryptedJSONField, EncryptedTextField
from apps.messaging.choices import (
    LIVE_JOB_STATUSES,
    DomainRuleKind,
    Encoding,
    JobStatus,
    MessageRoute,
    MessageStatus,
    OptOutSource,
    Priority,
    TermCategory,
    TermLanguage,
)
from apps.messaging.filtering.text import KHMER_RUN, normalize
from apps.messaging.sealing import unseal
from apps.providers.choices import Carrier

WEIGHT_MAX = 1000
_HAS_KHMER = re.compile(rf"[{KHMER_RUN}]")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


class FilterTerm(models.Model):
    """A word or phrase the content filter scores: staff edit these in the admin.

    Stored normalised (lower case, one spelling of look-alike Khmer subscripts) so it matches what the filter reads.
    A Khmer term is also a word of the filter's segmenter dictionary, so it is found even inside unspaced text.
    """

    term = models.CharField(
        max_length=100, help_text=_("A word or phrase, e.g. កាស៊ីណូ or “fast loan”."), verbose_name=_("term")
    )
    language = models.CharField(max_length=2, choices=TermLanguage.choices, verbose_name=_("language"))
    category = models.CharField(max_length=20, choices=TermCategory.choices, verbose_name=_("category"))
    weight = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(WEIGHT_MAX)],
        help_text=_("Added to a message's score when the term is found. Hold and reject thresholds are settings."),
        verbose_name=_("weight"),
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    note = models.CharField(
        max_length=200, blank=True, help_text=_("Why this term is here (for other staff)."), verbose_name=_("note")
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("filter term")
        verbose_name_plural = _("filter terms")
        ordering = ["category", "term"]
        constraints = [
            models.UniqueConstraint(fields=["term", "language"], name="messaging_filter_term_unique_per_language"),
            models.CheckConstraint(condition=~Q(term=""), name="messaging_filter_term_not_empty"),
            models.CheckConstraint(condition=Q(weight__lte=WEIGHT_MAX), name="messaging_filter_term_weight_range"),
            models.CheckConstraint(
                condition=Q(language__in=TermLanguage.values), name="messaging_filter_term_language_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=TermCategory.values), name="messaging_filter_term_category_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term} ({self.language}, {self.category}, {self.weight})"

    def clean(self) -> None:
        self.term = " ".join(normalize(self.term or "").split())
        if not self.term:
            raise ValidationError({"term": "Enter a word or phrase."})
        has_khmer = bool(_HAS_KHMER.search(self.term))
        if self.language == TermLanguage.KHMER and not has_khmer:
            raise ValidationError({"language": "This term has no Khmer letters: choose English."})
        if self.language == TermLanguage.ENGLISH and has_khmer:
            raise ValidationError({"language": "This term is written in Khmer: choose Khmer."})


class DomainRule(models.Model):
    """A domain the filter knows: a link shortener or blocked domain (scored), or a bank's official domain.

    A rule covers its subdomains. Official domains are never scored, and their `brand` (and first label) is what
    look-alike hosts such as "aba-verify.xyz" are caught by.
    """

    domain = models.CharField(
        max_length=253, help_text=_("Host name without scheme or path, e.g. bit.ly."), verbose_name=_("domain")
    )
    kind = models.CharField(max_length=20, choices=DomainRuleKind.choices, verbose_name=_("kind"))
    weight = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(WEIGHT_MAX)],
        help_text=_("Added to the score of a message linking here."),
        verbose_name=_("weight"),
    )
    brand = models.CharField(
        max_length=50,
        blank=True,
        help_text=_("Official domains only: the short brand look-alikes use, e.g. aba."),
        verbose_name=_("brand"),
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("domain rule")
        verbose_name_plural = _("domain rules")
        ordering = ["kind", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="messaging_domain_rule_unique_domain"),
            models.CheckConstraint(condition=~Q(domain=""), name="messaging_domain_rule_not_empty"),
            models.CheckConstraint(condition=Q(weight__lte=WEIGHT_MAX), name="messaging_domain_rule_weight_range"),
            models.CheckConstraint(
                condition=Q(kind__in=DomainRuleKind.values), name="messaging_domain_rule_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=DomainRuleKind.OFFICIAL) | Q(brand=""), name="messaging_domain_rule_brand_if_official"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.kind})"

    def clean(self) -> None:
        domain = (self.domain or "").strip().lower()
        domain = domain.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].strip(".").removeprefix("www.")
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError({"domain": "This is not a valid domain name."}) from None
        if not _HOSTNAME.match(domain):
            raise ValidationError({"domain": "This is not a valid domain name."})
        self.domain = domain
        self.brand = (self.brand or "").strip().lower()
        if self.brand and self.kind != DomainRuleKind.OFFICIAL:
            raise ValidationError({"brand": "Only official domains have a brand."})


class PhoneListEntry(models.Model):
    """Shared fields of the network-wide phone lists."""

    # Encrypted at rest (apps.core.crypto); the send path and staff find a number by `phone_hash`.
    phone = EncryptedCharField(max_length=16, help_text=_("E.164, e.g. +85512345678"), verbose_name=_("phone"))
    phone_hash = BlindIndexField(source="phone", verbose_name=_("number's keyed hash"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"···{self.phone[-3:]}"  # enough for staff to tell entries apart; logs and audit rows keep no number


class OptOut(PhoneListEntry):
    """A number that asked to receive nothing more from the PeerPower network: from one client (`organization`,
    after a STOP reply to that client's message) or, without one, whichever client sends.

    Added when the recipient replies STOP (or ឈប់…), by staff, or through the API; the send API refuses such a
    recipient with `recipient_opted_out`.
    """

    organization = models.ForeignKey(
        "accounts.ClientOrganization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Only this client's messages (empty: every client's)."),
        verbose_name=_("organization"),
    )
    source = models.CharField(max_length=20, choices=OptOutSource.choices, verbose_name=_("source"))
    note = models.CharField(
        max_length=200, blank=True, help_text=_("The reply received, or why staff added it."), verbose_name=_("note")
    )

    class Meta:
        verbose_name_plural = _("opt-outs")
        verbose_name = _("opt-out")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_hash"], condition=Q(organization__isnull=True), name="messaging_opt_out_unique_phone"
            ),
            models.UniqueConstraint(
                fields=["phone_hash", "organization"],
                condition=Q(organization__isnull=False),
                name="messaging_opt_out_unique_phone_per_client",
            ),
            models.CheckConstraint(condition=~Q(phone_hash=""), name="messaging_opt_out_phone_hash_set"),
            models.CheckConstraint(condition=Q(source__in=OptOutSource.values), name="messaging_opt_out_source_valid"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="messaging_opt_out_created_idx"),
            models.Index(fields=["phone"], name="messaging_opt_out_phone_idx"),
        ]


class StopKeyword(models.Model):
    """A reply word of a client's own that opts the sender out of that client's messages (as "STOP" does), set by
    staff for the client: a brand's "STOP ABA", a campaign's "ឈប់ ABA"."""

    organization = models.ForeignKey(
        "accounts.ClientOrganization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )
    keyword = models.CharField(max_length=64, verbose_name=_("keyword"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("stop keyword")
        verbose_name_plural = _("stop keywords")
        constraints = [
            models.UniqueConstraint(fields=["organization", "keyword"], name="messaging_stop_keyword_unique"),
            models.CheckConstraint(condition=~Q(keyword=""), name="messaging_stop_keyword_not_empty"),
        ]

    def __str__(self) -> str:
        return self.keyword


class BlockedRecipient(PhoneListEntry):
    """A number staff blocked for every client (abuse, a complaint, a number that must never be messaged).

    The send API refuses it with `recipient_blocked`.
    """

    reason = models.CharField(max_length=200, verbose_name=_("reason"))

    class Meta:
        verbose_name = _("blocked recipient")
        verbose_name_plural = _("blocked recipients")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["phone_hash"], name="messaging_blocked_recipient_unique_phone"),
            models.CheckConstraint(condition=~Q(phone_hash=""), name="messaging_blocked_phone_hash_set"),
            models.CheckConstraint(condition=~Q(reason=""), name="messaging_blocked_recipient_reason_given"),
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="messaging_blocked_created_idx")]


class Message(models.Model):
    """One SMS a client asked us to deliver. This row is the truth: queues only signal that it needs work, and a
    reconciler re-enqueues any message whose work was lost. Status changes only through `apps.messaging.state`.
    """

    # No index of its own: message_client_created_idx and message_client_reference_idx begin with it (one index less
    # to write on every message).
    organization = models.ForeignKey(
        "accounts.ClientOrganization",
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("organization"),
        db_index=False,
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("api key")
    )
    # Encrypted at rest (apps.core.crypto); found by `to_hash`. Both erased when the client's retention for bodies
    # runs out (apps.messaging.retention), the hash kept so the message still counts for its recipient.
    to = EncryptedCharField(_("recipient"), max_length=16, blank=True, help_text=_("E.164"))
    to_hash = BlindIndexField(source="to", verbose_name=_("recipient's keyed hash"))
    carrier = models.CharField(
        max_length=20, choices=Carrier.choices, default=Carrier.UNKNOWN, verbose_name=_("carrier")
    )
    body = EncryptedTextField(blank=True, verbose_name=_("body"))
    encoding = models.CharField(max_length=4, choices=Encoding.choices, verbose_name=_("encoding"))
    segments = models.PositiveSmallIntegerField(verbose_name=_("segments"))
    # The quote at accept, per segment in 10⁻⁶ PPT with the route's multiplier (apps.messaging.charging): on each
    # route the message could take, what was held for it (`charge:message:<id>`), and what its delivery captured.
    price_on_net = models.BigIntegerField(default=0, verbose_name=_("price on net"))
    price_cross_carrier = models.BigIntegerField(default=0, verbose_name=_("price cross carrier"))
    price_held = models.BigIntegerField(
        default=0, help_text=_("10⁻⁶ PPT held at accept (0: free)."), verbose_name=_("price held")
    )
    price_charged = models.BigIntegerField(
        null=True, blank=True, help_text=_("10⁻⁶ PPT captured on delivery."), verbose_name=_("price charged")
    )
    priority = models.CharField(
        max_length=6, choices=Priority.choices, default=Priority.NORMAL, verbose_name=_("priority")
    )
    reference = models.CharField(
        max_length=100, blank=True, help_text=_("The client's own reference."), verbose_name=_("reference")
    )
    callback_url = models.URLField(max_length=500, blank=True, verbose_name=_("callback url"))
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED, verbose_name=_("status")
    )
    status_reason = models.CharField(max_length=64, blank=True, verbose_name=_("status reason"))
    filter_score = models.PositiveIntegerField(default=0, verbose_name=_("filter score"))
    filter_reasons = models.JSONField(default=list, blank=True, verbose_name=_("filter reasons"))
    # Which phones may carry it (apps.messaging.routes). On the trusted route the body is sealed at rest
    # (apps.messaging.sealing): read it through `text`.
    route = models.CharField(
        max_length=8, choices=MessageRoute.choices, default=MessageRoute.OPEN, verbose_name=_("route")
    )
    # The client reported that the code in this message was used (SMS pumping defence, apps.messaging.pumping).
    converted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("converted at"))
    # For clients that opted in: the code appended to the SMS, which the recipient can check at /api/verify/{code}.
    verification_code = models.CharField(
        max_length=12, unique=True, null=True, blank=True, verbose_name=_("verification code")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    scheduled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled at"))
    expires_at = models.DateTimeField(
        help_text=_("End of validity: not delivered by then, the message expires."), verbose_name=_("expires at")
    )
    # When the dispatcher should look at this message next. A queued message whose time has long passed has lost
    # its task (broker message lost, worker crashed): the reconciler enqueues it again.
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    dispatch_tries = models.PositiveIntegerField(
        default=0, help_text=_("Matching rounds that found no capacity."), verbose_name=_("dispatch tries")
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=_("Leases given to providers."), verbose_name=_("attempts")
    )
    assigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("assigned at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    redacted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the body and recipient were erased."), verbose_name=_("redacted at")
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="message_client_created_idx"),
            models.Index(fields=["organization", "reference"], name="message_client_reference_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="message_queued_due_idx",
            ),
            models.Index(fields=["status", "-created_at"], name="message_status_created_idx"),
            models.Index(fields=["to_hash"], name="message_recipient_hash_idx"),
            # The retention run's query: finished messages not yet redacted, oldest first.
            models.Index(
                fields=["finished_at"],
                condition=Q(redacted_at__isnull=True, finished_at__isnull=False),
                name="message_unredacted_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(segments__gte=1), name="message_segments_positive"),
            models.CheckConstraint(condition=~Q(to_hash=""), name="message_to_hash_set"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
        ]
        # Staff without it see bodies with codes masked (one-time passwords, PINs) in the back office.
        permissions = [("view_message_content", "Can view message content unmasked")]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.status})"

    @property
    def text(self) -> str:
        """The body as the phone sends it (unsealed). Only the phone's job and the sender need it."""
        return unseal(self.body)


class Job(models.Model):
    """A lease: one message offered to one provider's SIM until `deadline`. The database allows at most one live
    lease per message; an expired lease is re-matched to a different provider.

    `trace_token` is the random secret that binds the phone's reports to this lease.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("message"))
    # No index of its own: `job_provider_status_idx` leads with it (every job write would update both).
    provider = models.ForeignKey(
        "providers.Provider",
        on_delete=models.PROTECT,
        related_name="jobs",
        db_index=False,
        verbose_name=_("provider"),
    )
    sim = models.ForeignKey("providers.Sim", on_delete=models.PROTECT, related_name="jobs", verbose_name=_("sim"))
    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.OFFERED, verbose_name=_("status")
    )
    trace_token = models.CharField(max_length=64, unique=True, verbose_name=_("trace token"))
    attempt = models.PositiveSmallIntegerField(
        help_text=_("1 for the message's first lease, 2 for the next..."), verbose_name=_("attempt")
    )
    cross_carrier = models.BooleanField(default=False, verbose_name=_("cross carrier"))
    sticky = models.BooleanField(default=False, verbose_name=_("sticky"))
    offered_at = models.DateTimeField(default=timezone.now, verbose_name=_("offered at"))
    reserved_at = models.DateTimeField(
        help_text=_("When the SIM's capacity was reserved (to release it exactly)."), verbose_name=_("reserved at")
    )
    deadline = models.DateTimeField(verbose_name=_("deadline"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    end_reason = models.CharField(max_length=64, blank=True, verbose_name=_("end reason"))
    # Pushes sent for this offer (the first, and a re-push if the phone did not acknowledge in time).
    push_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("push attempts"))
    last_pushed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last pushed at"))
    last_push_error = models.CharField(max_length=64, blank=True, verbose_name=_("last push error"))

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["message"],
                condition=Q(status__in=["offered", "accepted", "sent", "unknown"]),
                name="job_one_live_lease_per_message",
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["deadline"],
                condition=Q(status__in=["offered", "accepted", "sent", "unknown"]),
                name="job_live_deadline_idx",
            ),
            models.Index(fields=["provider", "status"], name="job_provider_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status}) for message {self.message_id}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_JOB_STATUSES


class IdempotencyKey(models.Model):
    """The first response to a client's request with an `Idempotency-Key`, replayed for retries of the same
    request and refused (409) for a different one. Kept at least MESSAGE_IDEMPOTENCY_HOURS."""

    organization = models.ForeignKey(
        "accounts.ClientOrganization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )
    key = models.CharField(max_length=255, verbose_name=_("key"))
    request_hash = models.CharField(max_length=64, verbose_name=_("request hash"))
    response_status = models.PositiveSmallIntegerField(verbose_name=_("response status"))
    # Encrypted at rest: the answer to a send names the recipient.
    response_body = EncryptedJSONField(verbose_name=_("response body"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))
    # Set when the row was written by the statement that inserted the message (apps.messaging.idempotency): the
    # body was written before the message had an id, and keeps `"id": null` where this goes. A plain number, not a
    # foreign key: the row is pruned after MESSAGE_IDEMPOTENCY_HOURS whatever becomes of the message, and the
    # statement's INSERT needs no check of its own.
    message_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("message id"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique_per_client"),
        ]

    def __str__(self) -> str:
        return self.key


class HeldMessage(Message):
    """The moderation queue: messages the content filter held for staff review (admin view only)."""

    class Meta:
        proxy = True
        verbose_name = _("held message")
        verbose_name_plural = _("held messages (moderation queue)")


class DeadLetter(Message):
    """Messages that failed or expired, with the reason; staff can requeue them (admin view only)."""

    class Meta:
        verbose_name_plural = _("dead letters")
        proxy = True
        verbose_name = _("dead letter")
