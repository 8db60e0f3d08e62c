from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from apps.accounts.choices import Language
from apps.accounts.phone import normalize_phone
from apps.core.errors import ValidationFailed

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

    phone = models.CharField("phone number", max_length=16, unique=True, help_text="E.164, e.g. +85512345678")
    display_name = models.CharField(max_length=100, blank=True)
    did = models.CharField("DID", max_length=255, unique=True, null=True, blank=True)
    evm_address = models.CharField("EVM address", max_length=42, unique=True, null=True, blank=True)
    reputation_score = models.PositiveSmallIntegerField(default=REPUTATION_DEFAULT)
    preferred_language = models.CharField(max_length=2, choices=Language.choices, default=Language.KHMER)
    is_staff = models.BooleanField(default=False, help_text="Can log in to the admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reputation_score__gte=REPUTATION_MIN, reputation_score__lte=REPUTATION_MAX),
                name="user_reputation_in_range",
            ),
            models.CheckConstraint(condition=models.Q(phone__startswith="+"), name="user_phone_is_e164"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.phone
