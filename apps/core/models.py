from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Lock(models.Model):
    """A named lease held by one process until `expires_at`: the database fallback for distributed locks when
    Redis is not configured (see apps.core.locks)."""

    name = models.CharField(max_length=200, primary_key=True, verbose_name=_("name"))
    token = models.CharField(max_length=64, verbose_name=_("token"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("lock")
        verbose_name_plural = _("locks")

    def __str__(self) -> str:
        return self.name


class ValidityQuerySet(models.QuerySet):
    def valid_at(self, now: datetime) -> "ValidityQuerySet":
        """The rows valid at `now`, the one that started last first (it applies where periods overlap)."""
        return (
            self.filter(valid_from__lte=now)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .order_by("-valid_from", "-pk")
        )


class StaffRow(models.Model):
    """What staff-set rows with a validity period share (top-up and payout rates, prices, reward, bonus and surge
    rules): valid from `valid_from` until `valid_until` (open: until further notice), a note, who set it and when.
    A row something used is never edited: staff set a new one. Subclasses add their value and their constraints."""

    valid_from = models.DateTimeField(default=timezone.now, verbose_name=_("valid from"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=_("valid until"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    objects = ValidityQuerySet.as_manager()

    class Meta:
        abstract = True
