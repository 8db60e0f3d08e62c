from django.utils.translation import gettext_lazy as _

from apps.core.errors import PermissionDenied, ValidationFailed


class StaffOnly(PermissionDenied):
    code = "staff_only"
    default_message = _("Only PeerPower staff can read these statistics.")


class StatsPeriodInvalid(ValidationFailed):
    code = "stats_period_invalid"
    default_message = _("The period is not valid: give dates as YYYY-MM-DD, from before until, at most 366 days.")
