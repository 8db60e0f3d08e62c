"""What staff-edited incentive rules share: a validity period, a note, who set it (as `payments.ExchangeRate`)."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ValidityQuerySet(models.QuerySet):
    def valid_at(self, now: datetime) -> "ValidityQuerySet":
        """The rows valid at `now`, the one that started last first (it applies where periods overlap)."""
        return (
            self.filter(valid_from__lte=now)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .order_by("-valid_from", "-pk")
        )


class StaffRule(models.Model):
    """A rule staff set, valid from `valid_from` until `valid_until` (open: until further notice). Never edited once
    used: a new row replaces it."""

    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ValidityQuerySet.as_manager()

    class Meta:
        abstract = True
