from django.conf import settings
from django.db import models
from django.utils import timezone


class Lock(models.Model):
    """A named lease held by one process until `expires_at`: the database fallback for distributed locks when
    Redis is not configured (see apps.core.locks)."""

    name = models.CharField(max_length=200, primary_key=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name


class StaffRate(models.Model):
    """What a staff-set exchange rate shares (top-up rates, payout rates): a validity period from `valid_from` until
    `valid_until` (open: until further notice), a note, who set it and when. A rate something used is never edited:
    staff set a new row. Subclasses add the rate itself and their constraints."""

    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
