import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.messaging.choices import DomainRuleKind, OptOutSource, TermCategory, TermLanguage
from apps.messaging.filtering.text import KHMER_RUN, normalize

WEIGHT_MAX = 1000
_HAS_KHMER = re.compile(rf"[{KHMER_RUN}]")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


class FilterTerm(models.Model):
    """A word or phrase the content filter scores: staff edit these in the admin.

    Stored normalised (lower case, one spelling of look-alike Khmer subscripts) so it matches what the filter reads.
    A Khmer term is also a word of the filter's segmenter dictionary, so it is found even inside unspaced text.
    """

    term = models.CharField(max_length=100, help_text="A word or phrase, e.g. កាស៊ីណូ or “fast loan”.")
    language = models.CharField(max_length=2, choices=TermLanguage.choices)
    category = models.CharField(max_length=20, choices=TermCategory.choices)
    weight = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(WEIGHT_MAX)],
        help_text="Added to a message's score when the term is found. Hold and reject thresholds are settings.",
    )
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why this term is here (for other staff).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    domain = models.CharField(max_length=253, help_text="Host name without scheme or path, e.g. bit.ly.")
    kind = models.CharField(max_length=20, choices=DomainRuleKind.choices)
    weight = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(WEIGHT_MAX)], help_text="Added to the score of a message linking here."
    )
    brand = models.CharField(
        max_length=50, blank=True, help_text="Official domains only: the short brand look-alikes use, e.g. aba."
    )
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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

    phone = models.CharField(max_length=16, help_text="E.164, e.g. +85512345678")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.phone


class OptOut(PhoneListEntry):
    """A number that asked to receive nothing more from the PeerPower network, whichever client sends.

    Added when the recipient replies STOP (or ឈប់…), by staff, or through the API; the send API refuses such a
    recipient with `recipient_opted_out`.
    """

    source = models.CharField(max_length=20, choices=OptOutSource.choices)
    note = models.CharField(max_length=200, blank=True, help_text="The reply received, or why staff added it.")

    class Meta:
        verbose_name = "opt-out"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="messaging_opt_out_unique_phone"),
            models.CheckConstraint(condition=Q(phone__startswith="+"), name="messaging_opt_out_phone_e164"),
            models.CheckConstraint(condition=Q(source__in=OptOutSource.values), name="messaging_opt_out_source_valid"),
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="messaging_opt_out_created_idx")]


class BlockedRecipient(PhoneListEntry):
    """A number staff blocked for every client (abuse, a complaint, a number that must never be messaged).

    The send API refuses it with `recipient_blocked`.
    """

    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="messaging_blocked_recipient_unique_phone"),
            models.CheckConstraint(condition=Q(phone__startswith="+"), name="messaging_blocked_recipient_phone_e164"),
            models.CheckConstraint(condition=~Q(reason=""), name="messaging_blocked_recipient_reason_given"),
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="messaging_blocked_created_idx")]
