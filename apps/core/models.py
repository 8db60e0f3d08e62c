from django.db import models


class Lock(models.Model):
    """A named lease held by one process until `expires_at`: the database fallback for distributed locks when
    Redis is not configured (see apps.core.locks)."""

    name = models.CharField(max_length=200, primary_key=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name
