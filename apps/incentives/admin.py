"""The incentives back office: each area's screens register themselves from their own module."""

from apps.incentives.payouts import admin as payouts_admin  # noqa: F401 - registers the payout screens
