from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.choices import ApplicationStatus, ChallengeKind, ClientRole, DenyKind, Language, OtpPurpose
from apps.accounts.phone import normalize_phone
from apps.core.errors import ValidationFailed
from apps.core.fields import BlindIndexField, EncryptedLookupCharField

REPUTATION_MIN = 0
REPUTATION_MAX = 1000
REPUTATION_DEFAULT = 500


class UserManager(BaseUserManager["User"]):
    """Users are identified by their phone number in E.164; anything a person types is normalised first."""

    use_in_migrations = True

    def _create(self, phone: str, password: str | None, **fields: Any) -> "User":
        # Staff may use any valid number; the mobile-only rule applies to sign-up through the app.
        user = self.model(phone=normalize_phone(phone, require_mobile=False, allowed_regions=[]).e164, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()  # phone-OTP users never log in with a password
        user.save(using=self._db)
        return user

    def create_user(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(phone, password, **fields)

    def create_superuser(self, phone: str, password: str | None = None, **fields: Any) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        if not fields["is_staff"] or not fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        if not password:
            raise ValueError("A superuser needs a password to log in to the admin.")
        return self._create(phone, password, **fields)

    def get_by_natural_key(self, username: str | None) -> "User":
        # The admin login form passes whatever was typed ("012 345 678"); look it up by its E.164 form.
        try:
            username = normalize_phone(username or "", require_mobile=False, allowed_regions=[]).e164
        except ValidationFailed:
            pass
        return super().get_by_natural_key(username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: provider, client staff or PeerPower staff. Logs in by phone number (E.164)."""

    # Encrypted at rest; found by equality through its keyed hash (EncryptedLookupCharField), which is what really
    # keeps numbers unique. `unique=True` on the encrypted column itself only lets Django's form validation and its
    # auth checks treat the phone as the username (their lookups go through the hash as well).
    phone = EncryptedLookupCharField(
        _("phone number"), max_length=16, unique=True, help_text=_("E.164, e.g. +85512345678")
    )
    phone_hash = BlindIndexField(source="phone", unique=True, verbose_name=_("phone number's keyed hash"))
    display_name = models.CharField(max_length=100, blank=True, verbose_name=_("display name"))
    did = models.CharField(_("DID"), max_length=255, unique=True, null=True, blank=True)
    evm_address = models.CharField(_("EVM address"), max_length=42, unique=True, null=True, blank=True)
    reputation_score = models.PositiveSmallIntegerField(default=REPUTATION_DEFAULT, verbose_name=_("reputation score"))
    preferred_language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.KHMER, verbose_name=_("preferred language")
    )
    is_staff = models.BooleanField(default=False, help_text=_("Can log in to the admin."), verbose_name=_("is staff"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    date_joined = models.DateTimeField(default=timezone.now, verbose_name=_("date joined"))

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reputation_score__gte=REPUTATION_MIN, reputation_score__lte=REPUTATION_MAX),
                name="user_reputation_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.phone


class OtpChallenge(models.Model):
    """A one-time code sent to a phone. Only the code's salted HMAC is stored.

    Valid until `expires_at`, for at most OTP_MAX_ATTEMPTS wrong tries, and once: `consumed_at` is set by the one
    successful verification. A newer challenge for the same phone and purpose supersedes older ones.
    """

    phone = EncryptedLookupCharField(max_length=16, verbose_name=_("phone"))  # encrypted, looked up by `phone_hash`
    phone_hash = BlindIndexField(source="phone", verbose_name=_("phone's keyed hash"))
    purpose = models.CharField(
        max_length=20, choices=OtpPurpose.choices, default=OtpPurpose.LOGIN, verbose_name=_("purpose")
    )
    code_hash = models.CharField(max_length=64, verbose_name=_("code hash"))
    salt = models.CharField(max_length=32, verbose_name=_("salt"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    consumed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consumed at"))
    superseded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("superseded at"))
    request_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("request ip"))

    class Meta:
        verbose_name = _("OTP challenge")
        verbose_name_plural = _("OTP challenges")
        indexes = [models.Index(fields=["phone_hash", "purpose", "-created_at"], name="otp_phone_hash_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.phone}"


class DeviceSession(models.Model):
    """A signed-in device: the refresh-token family that rotates on every refresh.

    `refresh_jti` is the one refresh token that may be used next; presenting an older one means the token was
    copied, and the whole session is revoked.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("user"))
    name = models.CharField(max_length=100, blank=True, verbose_name=_("name"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(default=timezone.now, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    refresh_jti = models.CharField(max_length=64, blank=True, verbose_name=_("refresh jti"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip"))
    user_agent = models.CharField(max_length=200, blank=True, verbose_name=_("user agent"))

    class Meta:
        verbose_name = _("device session")
        verbose_name_plural = _("device sessions")
        indexes = [models.Index(fields=["user", "revoked_at", "-last_used_at"], name="session_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} on {self.name or 'unnamed device'}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdentityChallenge(models.Model):
    """A nonce issued to a user to prove control of a DID key or an EVM wallet; used once, expires."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    kind = models.CharField(max_length=10, choices=ChallengeKind.choices, verbose_name=_("kind"))
    nonce = models.CharField(max_length=64, unique=True, verbose_name=_("nonce"))
    message = models.TextField(verbose_name=_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("identity challenge")
        verbose_name_plural = _("identity challenges")

    def __str__(self) -> str:
        return f"{self.kind} challenge for {self.user}"


class ClientPlan(models.Model):
    """Limits staff give client organisations: what each API key may send per second and per day (a client may
    set lower ones on its keys, never higher), what the whole organisation may send per day, and how many active
    keys it may hold. An organisation without a plan gets the CLIENT_PLAN_DEFAULT_* settings."""

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    key_rate_per_second = models.PositiveIntegerField(
        help_text=_("Highest per-second request rate of one API key."), verbose_name=_("key rate per second")
    )
    key_rate_per_day = models.PositiveIntegerField(
        help_text=_("Highest daily message quota of one API key."), verbose_name=_("key rate per day")
    )
    organization_rate_per_day = models.PositiveIntegerField(
        help_text=_("Messages per day across all its keys."), verbose_name=_("organization rate per day")
    )
    max_api_keys = models.PositiveSmallIntegerField(
        help_text=_("Active API keys the organisation may hold."), verbose_name=_("max api keys")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("client plan")
        verbose_name_plural = _("client plans")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    key_rate_per_second__gt=0,
                    key_rate_per_day__gt=0,
                    organization_rate_per_day__gt=0,
                    max_api_keys__gt=0,
                ),
                name="client_plan_limits_positive",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ClientOrganization(models.Model):
    """A business that sends SMS through PeerPower. Staff can block it (it then cannot send).

    A new organisation is in the sandbox (`approved_at` empty): it may send only to its members' own (verified)
    numbers, a few messages a day, until staff approve its application (`ClientApplication`).
    """

    name = models.CharField(max_length=200, verbose_name=_("name"))
    contact_email = models.EmailField(blank=True, verbose_name=_("contact email"))
    # Encrypted; found by equality (admin search by a typed number) through `contact_phone_hash`.
    contact_phone = EncryptedLookupCharField(max_length=16, blank=True, verbose_name=_("contact phone"))
    contact_phone_hash = BlindIndexField(
        source="contact_phone", db_index=True, verbose_name=_("contact phone's keyed hash")
    )
    members = models.ManyToManyField(
        User, through="ClientMembership", related_name="client_organizations", verbose_name=_("members")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    is_blocked = models.BooleanField(default=False, verbose_name=_("is blocked"))
    blocked_reason = models.CharField(max_length=200, blank=True, verbose_name=_("blocked reason"))
    # Append a short code to every SMS, which the recipient can check at /api/verify/{code} (anti-phishing).
    verification_codes = models.BooleanField(
        default=False,
        help_text=_("Append a verification code to each SMS, so recipients can check who sent it."),
        verbose_name=_("verification codes"),
    )
    # PeerPower itself, as the sender of its own messages (OTP codes); there is at most one.
    is_system = models.BooleanField(default=False, editable=False, verbose_name=_("is system"))
    # A `balance.low` webhook event when spendable PPT falls under this (10⁻⁶ PPT); empty: never.
    low_balance_threshold = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("Send a balance.low webhook event when spendable PPT falls under this (10⁻⁶ PPT). Empty: never."),
        verbose_name=_("low balance threshold"),
    )
    # Like Twilio's ContentRetention: how long message bodies outlive a final state (docs/privacy.md).
    message_body_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Days a message's body and recipient are kept after it reached a final state; 0: erased at the "
            "next retention run. Empty: the network default (MESSAGE_BODY_RETENTION_DAYS)."
        ),
        verbose_name=_("message body retention days"),
    )

    # Staff approval of its application; empty while it is in the sandbox.
    approved_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Empty: sandboxed (not yet approved)."), verbose_name=_("approved at")
    )
    plan = models.ForeignKey(
        ClientPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="organizations",
        help_text=_("Empty: the default limits (CLIENT_PLAN_DEFAULT_* settings)."), verbose_name=_("plan"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("client organization")
        verbose_name_plural = _("client organizations")
        constraints = [
            models.UniqueConstraint(fields=["is_system"], condition=models.Q(is_system=True), name="client_one_system"),
            models.CheckConstraint(
                condition=models.Q(low_balance_threshold__isnull=True) | models.Q(low_balance_threshold__gt=0),
                name="client_low_balance_threshold_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sandboxed(self) -> bool:
        return self.approved_at is None and not self.is_system


class ClientMembership(models.Model):
    """A user's role in a client organisation."""

    organization = models.ForeignKey(
        ClientOrganization, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organization")
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="client_memberships", verbose_name=_("user"))
    role = models.CharField(
        max_length=10, choices=ClientRole.choices, default=ClientRole.MEMBER, verbose_name=_("role")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("client membership")
        verbose_name_plural = _("client memberships")
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.organization}"


class ApiKey(models.Model):
    """A client system's credential. The secret is shown once; only its SHA-256 and a short prefix are kept
    (the secret has 256 bits of entropy, so a fast hash is enough and keeps authentication to one indexed lookup).
    """

    organization = models.ForeignKey(
        ClientOrganization, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("organization")
    )
    name = models.CharField(max_length=100, verbose_name=_("name"))
    prefix = models.CharField(
        max_length=20, help_text=_("The first characters of the key, to recognise it."), verbose_name=_("prefix")
    )
    secret_hash = models.CharField(max_length=64, unique=True, verbose_name=_("secret hash"))
    created_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    # Per-key limits the messaging API enforces; null means the platform default.
    rate_per_second = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("rate per second"))
    rate_per_day = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("rate per day"))

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ClientApplication(models.Model):
    """What a client tells staff to leave the sandbox: who it is and what it will send. Filled through the API by an
    owner, submitted, and decided by staff in the admin (approve, request changes, reject)."""

    organization = models.OneToOneField(
        ClientOrganization, on_delete=models.CASCADE, related_name="application", verbose_name=_("organization")
    )
    business_name = models.CharField(max_length=200, verbose_name=_("business name"))
    registration_number = models.CharField(
        max_length=100, help_text=_("Business registration (e.g. MoC) number."), verbose_name=_("registration number")
    )
    use_case = models.TextField(max_length=2000, verbose_name=_("use case"))
    sample_messages = models.JSONField(
        default=list, help_text=_("Example SMS bodies the client will send."), verbose_name=_("sample messages")
    )
    expected_daily_volume = models.PositiveIntegerField(verbose_name=_("expected daily volume"))
    status = models.CharField(
        max_length=20, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT, verbose_name=_("status")
    )
    staff_note = models.TextField(
        blank=True, help_text=_("Shown to the client with the decision."), verbose_name=_("staff note")
    )
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("decided by")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("client application")
        verbose_name_plural = _("client applications")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ApplicationStatus.values), name="application_status_valid"
            )
        ]
        indexes = [models.Index(fields=["status", "submitted_at"], name="application_review_idx")]

    def __str__(self) -> str:
        return f"application of {self.organization_id} ({self.status})"


class DenyListEntry(models.Model):
    """A value staff refuse: an account's phone number (sign-in), a SIM number (SIM registration) or a device's
    installation id (device registration). Removal keeps the row (who, when, why), so the history stays."""

    kind = models.CharField(max_length=10, choices=DenyKind.choices, verbose_name=_("kind"))
    # A phone or SIM number is stored only as its keyed hash, "hash:<blind index of E.164>" (services.denylist).
    value = models.CharField(
        max_length=200,
        help_text=_("A number in any form (kept only as its keyed hash), or a device's installation id."),
        verbose_name=_("value"),
    )
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))
    removed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("removed by")
    )
    removal_reason = models.CharField(max_length=200, blank=True, verbose_name=_("removal reason"))

    class Meta:
        verbose_name = _("deny-list entry")
        verbose_name_plural = _("deny-list")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"], condition=models.Q(removed_at__isnull=True), name="deny_list_one_active"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=DenyKind.values), name="deny_list_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.shown_value}"

    @property
    def shown_value(self) -> str:
        """The value as staff see it: a listed number only as the start of its keyed hash (it is all that is kept)."""
        if self.value.startswith("hash:"):
            return _("number with keyed hash %(start)s…") % {"start": self.value[5:13]}
        return self.value
