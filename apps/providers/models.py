from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import BlindIndexField, EncryptedLookupCharField
from apps.providers.choices import (
    Availability,
    AvailabilityReason,
    Carrier,
    NetworkType,
    Platform,
    ProviderStatus,
    Province,
)

REPUTATION_MIN = 0
REPUTATION_MAX = 1000
SCORE_MAX = 1000
REPUTATION_DEFAULT = 500
SIM_SLOT_MAX = 7
SIGNAL_LEVEL_MAX = 4  # Android's SignalStrength.getLevel(): 0 (none) to 4 (great)
TRUST_LEVEL_MAX = 100


class Provider(models.Model):
    """A person whose phone sends PeerPower's SMS (one per user), and what matching needs to know about them now.

    `availability` is the effective state matching uses; `chosen_availability` is what the provider last asked for.
    They differ only while the offline sweep holds a provider offline for missed heartbeats: the next heartbeat
    restores the chosen state. Every change of `availability` is kept in `AvailabilityChange` for uptime.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provider", verbose_name=_("user")
    )
    status = models.CharField(
        max_length=16, choices=ProviderStatus.choices, default=ProviderStatus.PENDING, verbose_name=_("status")
    )
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.OFFLINE, verbose_name=_("availability")
    )
    chosen_availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.OFFLINE, verbose_name=_("chosen availability")
    )
    availability_changed_at = models.DateTimeField(default=timezone.now, verbose_name=_("availability changed at"))
    province = models.CharField(max_length=32, choices=Province.choices, blank=True, verbose_name=_("province"))
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("latitude"))
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True, verbose_name=_("longitude"))
    reputation = models.PositiveSmallIntegerField(default=REPUTATION_DEFAULT, verbose_name=_("reputation"))
    # Reserved by matching, released by messaging when the job ends; bounded by PROVIDER_MAX_JOBS_IN_FLIGHT.
    jobs_in_flight = models.PositiveIntegerField(default=0, verbose_name=_("jobs in flight"))
    jobs_delivered = models.PositiveIntegerField(default=0, verbose_name=_("jobs delivered"))
    jobs_failed = models.PositiveIntegerField(default=0, verbose_name=_("jobs failed"))
    # The provider score (0-1000) incentives computes by beat from reputation, verified deliveries, latency, uptime
    # and strikes (`provider_scores_set`); matching weighs candidates by it. Null until first computed: matching
    # then falls back to reputation x success rate.
    score = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("score"))
    score_parts = models.JSONField(default=dict, blank=True, verbose_name=_("score parts"))
    score_computed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("score computed at"))
    # Copied from the device on each heartbeat, so matching and the sweep read one table.
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last heartbeat at"))
    # Set when an offer to the phone ended unacknowledged; cleared by the phone's next heartbeat, acknowledgement,
    # report or pull. Matching passes over the provider meanwhile (`Sim.matchable` mirrors it): a phone gone silent
    # without warning keeps a fresh-looking heartbeat for minutes, and its expired offers leave it the least loaded.
    unresponsive_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("An offer to this phone ended unacknowledged: no new work until it is heard from."),
        verbose_name=_("unresponsive since"),
    )
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    # Staff-set (apps.providers.services.trust, audited). The trusted pool is the company's and vetted partners' own
    # phones: PeerPower's sign-in codes and clients' `sensitive` messages go only there. The trust level (0-100) is
    # what a message that looks like a one-time code needs (PROVIDER_CODE_MIN_TRUST_LEVEL) to be offered to a phone.
    trusted = models.BooleanField(
        default=False,
        help_text=_("In the trusted pool (sign-in codes, sensitive messages)."),
        verbose_name=_("trusted"),
    )
    trust_level = models.PositiveSmallIntegerField(
        default=0, help_text=_("0-100, set by staff."), verbose_name=_("trust level")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        constraints = [
            models.CheckConstraint(
                condition=Q(reputation__gte=REPUTATION_MIN, reputation__lte=REPUTATION_MAX),
                name="provider_reputation_in_range",
            ),
            models.CheckConstraint(condition=Q(trust_level__lte=TRUST_LEVEL_MAX), name="provider_trust_level_in_range"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=SCORE_MAX), name="provider_score_in_range"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="provider_location_complete_and_in_range",
            ),
            models.CheckConstraint(condition=Q(status__in=ProviderStatus.values), name="provider_status_valid"),
            models.CheckConstraint(
                condition=Q(availability__in=Availability.values, chosen_availability__in=Availability.values),
                name="provider_availability_valid",
            ),
        ]
        indexes = [
            # The offline sweep: providers still counted as available, oldest heartbeat first.
            models.Index(
                fields=["last_heartbeat_at"],
                condition=~Q(availability=Availability.OFFLINE),
                name="provider_sweep_idx",
            ),
            models.Index(fields=["status", "availability"], name="provider_status_idx"),
        ]

    def __str__(self) -> str:
        return f"provider {self.pk} ({self.user.phone})" if self.user_id else f"provider {self.pk}"


class Sim(models.Model):
    """A SIM in a provider's phone: the number messages are sent from, its carrier, and its sending caps.

    An active number belongs to one provider at a time (a removed SIM keeps its row, inactive, for history).
    `carrier` is the one matching uses: the SIM's own MCC-MNC when the app reports one, else the number range's.
    `matchable` is kept equal to "active, ready, its provider active, online, reputable, responsive and with room
    for another job" by the services, so the hot matching query scans a partial index of only the SIMs that can
    take work, ordered by `next_turn_at`.
    """

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="sims", verbose_name=_("provider"))
    # Encrypted at rest; found by equality through its keyed hash. Matching never reads the number: it goes by
    # `carrier`, which is kept in its own column.
    msisdn = EncryptedLookupCharField(_("MSISDN"), max_length=16, help_text=_("E.164, e.g. +85512345678"))
    msisdn_hash = BlindIndexField(source="msisdn", verbose_name=_("MSISDN's keyed hash"))
    slot = models.PositiveSmallIntegerField(help_text=_("SIM slot in the phone, from 0."), verbose_name=_("slot"))
    carrier = models.CharField(max_length=16, choices=Carrier.choices, verbose_name=_("carrier"))
    carrier_detected = models.CharField(
        max_length=16,
        choices=Carrier.choices,
        help_text=_("From the number range (phonenumbers)."),
        verbose_name=_("carrier detected"),
    )
    mcc_mnc = models.CharField(_("MCC-MNC"), max_length=6, blank=True, help_text=_("As reported by the app."))
    carrier_mismatch = models.BooleanField(
        default=False,
        help_text=_("The number range and the SIM's MCC-MNC name different carriers."),
        verbose_name=_("carrier mismatch"),
    )
    verified_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Ownership proven by an OTP to this SIM."), verbose_name=_("verified at")
    )
    # The provider's own limits; empty means the network default. Never above PROVIDER_SIM_*_CAP_MAX.
    hourly_cap = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("hourly cap"))
    daily_cap = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("daily cap"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    ready = models.BooleanField(
        default=True, help_text=_("In the phone and usable, as of the last heartbeat."), verbose_name=_("ready")
    )
    matchable = models.BooleanField(default=False, editable=False, verbose_name=_("matchable"))
    # Fair-share turn: matching takes the earliest turns first and moves a chosen SIM's turn back by a stride
    # inversely proportional to its provider's quality.
    next_turn_at = models.DateTimeField(default=timezone.now, verbose_name=_("next turn at"))
    # A cap was reached: no reservation can succeed before this time (a hint; the counters are the truth).
    capped_until = models.DateTimeField(null=True, blank=True, verbose_name=_("capped until"))
    last_assigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last assigned at"))
    # The carrier pushed back (limit_exceeded, network_reject, repeated generic_failure): no work before
    # `cooldown_until`, and lowered caps while `cooldown_level` > 0 and the last block is recent
    # (apps.providers.services.cooldown).
    cooldown_level = models.PositiveSmallIntegerField(default=0, verbose_name=_("cooldown level"))
    cooldown_until = models.DateTimeField(null=True, blank=True, verbose_name=_("cooldown until"))
    last_block_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last block at"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))

    class Meta:
        verbose_name = _("sim")
        verbose_name_plural = _("sims")
        constraints = [
            models.UniqueConstraint(fields=["msisdn_hash"], condition=Q(active=True), name="sim_active_msisdn_unique"),
            models.UniqueConstraint(
                fields=["provider", "slot"], condition=Q(active=True), name="sim_active_slot_unique"
            ),
            models.CheckConstraint(condition=Q(slot__lte=SIM_SLOT_MAX), name="sim_slot_in_range"),
            models.CheckConstraint(
                condition=Q(hourly_cap__isnull=True) | Q(hourly_cap__gt=0), name="sim_hourly_cap_positive"
            ),
            models.CheckConstraint(
                condition=Q(daily_cap__isnull=True) | Q(daily_cap__gt=0), name="sim_daily_cap_positive"
            ),
            models.CheckConstraint(
                condition=Q(matchable=False) | Q(active=True, ready=True), name="sim_matchable_only_when_usable"
            ),
            models.CheckConstraint(
                condition=Q(active=True, removed_at__isnull=True) | Q(active=False, removed_at__isnull=False),
                name="sim_removed_at_iff_inactive",
            ),
        ]
        indexes = [
            # The hot matching query: SIMs that can take work on one carrier, earliest turn first.
            models.Index(fields=["carrier", "next_turn_at"], condition=Q(matchable=True), name="sim_match_idx"),
            models.Index(fields=["msisdn_hash"], name="sim_msisdn_hash_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.msisdn} ({self.get_carrier_display()}, slot {self.slot})"


class SimCounter(models.Model):
    """How many messages a SIM has been given in the current hour and day: the database backend of the caps.

    Used only when Redis is not configured (Redis keys with expiry hold them otherwise). Windows are local
    (Asia/Phnom_Penh) hours and days, stored as yyyymmddhh / yyyymmdd numbers; a reservation increments both in
    one conditional UPDATE, so concurrent reservations can never push a count past its cap.
    """

    sim = models.OneToOneField(
        Sim, on_delete=models.CASCADE, primary_key=True, related_name="counter", verbose_name=_("sim")
    )
    hour_key = models.PositiveIntegerField(default=0, verbose_name=_("hour key"))
    hour_count = models.PositiveIntegerField(default=0, verbose_name=_("hour count"))
    day_key = models.PositiveIntegerField(default=0, verbose_name=_("day key"))
    day_count = models.PositiveIntegerField(default=0, verbose_name=_("day count"))

    class Meta:
        verbose_name = _("sim counter")
        verbose_name_plural = _("sim counters")

    def __str__(self) -> str:
        return f"{self.sim_id}: {self.hour_count} this hour, {self.day_count} today"


class Device(models.Model):
    """A provider's phone as the push channel knows it: its FCM token (unique, replaced when FCM rotates it) and
    the state it reported in its last heartbeat."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="devices", verbose_name=_("provider"))
    fcm_token = models.CharField(_("FCM token"), max_length=512, unique=True)
    # The app install's own id (Firebase installation id), which survives FCM token rotation: what staff deny-list.
    installation_id = models.CharField(max_length=200, blank=True, db_index=True, verbose_name=_("installation id"))
    platform = models.CharField(
        max_length=16, choices=Platform.choices, default=Platform.ANDROID, verbose_name=_("platform")
    )
    app_version = models.CharField(max_length=32, verbose_name=_("app version"))
    # The phone's HPKE public key (X25519, base64 of its 32 bytes; blank: none): pushed jobs carry their content
    # sealed to it (apps.delivery.sealed_push), so FCM never sees a text or a number.
    seal_key = models.CharField(
        max_length=44,
        blank=True,
        default="",
        help_text=_("The phone's X25519 public key (base64) that pushed jobs are sealed to; blank: none."),
        verbose_name=_("seal key"),
    )
    last_heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last heartbeat at"))
    battery = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Percent."), verbose_name=_("battery")
    )
    charging = models.BooleanField(null=True, blank=True, verbose_name=_("charging"))
    network_type = models.CharField(
        max_length=16, choices=NetworkType.choices, blank=True, verbose_name=_("network type")
    )
    signal = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Signal level 0-4."), verbose_name=_("signal")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [
            models.CheckConstraint(
                condition=Q(battery__isnull=True) | Q(battery__lte=100), name="device_battery_is_percent"
            ),
            models.CheckConstraint(
                condition=Q(signal__isnull=True) | Q(signal__lte=SIGNAL_LEVEL_MAX), name="device_signal_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.app_version} of provider {self.provider_id}"


class AvailabilityChange(models.Model):
    """One change of a provider's effective availability, with when and why: the history uptime is computed from."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="availability_changes", verbose_name=_("provider")
    )
    previous = models.CharField(max_length=16, choices=Availability.choices, verbose_name=_("previous"))
    availability = models.CharField(max_length=16, choices=Availability.choices, verbose_name=_("availability"))
    reason = models.CharField(max_length=32, choices=AvailabilityReason.choices, verbose_name=_("reason"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("availability change")
        verbose_name_plural = _("availability changes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["provider", "created_at"], name="availability_history_idx")]

    def __str__(self) -> str:
        return f"provider {self.provider_id}: {self.previous} -> {self.availability} ({self.reason})"


class StickySender(models.Model):
    """Who last delivered to a recipient for a client, so the next message to them comes from the same number.

    `client_ref` is the client's identifier as a string: the client organisation model does not exist yet, and
    messaging records deliveries here through `sticky_sender_remember` with whatever id it uses for a client.
    """

    client_ref = models.CharField(max_length=64, verbose_name=_("client ref"))
    # The recipient's keyed hash (apps.core.crypto.blind_index), not the number: this table outlives message bodies.
    recipient = models.CharField(max_length=32, verbose_name=_("recipient"))
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+", verbose_name=_("provider"))
    sim = models.ForeignKey(Sim, on_delete=models.CASCADE, related_name="+", verbose_name=_("sim"))
    updated_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("sticky sender")
        verbose_name_plural = _("sticky senders")
        constraints = [
            models.UniqueConstraint(fields=["client_ref", "recipient"], name="sticky_sender_one_per_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.client_ref} -> {self.recipient}: provider {self.provider_id}"
