"""The delivery app's back office; each part registers its own admin classes."""

from apps.delivery.webhooks import admin as webhooks_admin  # noqa: F401 - registers the webhook admin
