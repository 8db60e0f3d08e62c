"""Helpers shared by the delivery tests."""

from django.core.checks import run_checks


def delivery_check_ids() -> list[str]:
    """The delivery app's system check messages, as `manage.py check` would report them."""
    return [message.id for message in run_checks() if message.id.startswith("delivery.")]
