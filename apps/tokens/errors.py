"""The ledger's domain errors (codes are stable: clients and other apps branch on them)."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class TransferRefused(Conflict):
    """A single transfer, post or void was not applied; `code` is its `Result` (exceeds_credits, …)."""

    default_message = _("The transfer was refused.")


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = _("No such account.")


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    default_message = _("There is no wallet for this user.")


class OrganizationRequired(ValidationFailed):
    code = "organization_required"
    default_message = _("You belong to several organisations: say which one with ?organization=<id>.")


class AdjustmentNotPending(Conflict):
    code = "adjustment_not_pending"
    default_message = _("This adjustment has already been decided.")


class FourEyesRequired(PermissionDenied):
    code = "four_eyes_required"
    default_message = _("An adjustment must be approved by a staff member other than the one who proposed it.")
