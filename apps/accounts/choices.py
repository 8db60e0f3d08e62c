from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    KHMER = "km", _("ខ្មែរ")
    ENGLISH = "en", _("English")


class OtpPurpose(models.TextChoices):
    LOGIN = "login", _("Sign-up / login")
    SIM_VERIFICATION = "sim_verification", _("SIM ownership")


class ChallengeKind(models.TextChoices):
    DID = "did", _("DID key binding")
    WALLET = "wallet", _("EVM wallet binding (SIWE)")


class ClientRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    MEMBER = "member", _("Member")


class ApplicationStatus(models.TextChoices):
    """Where a client's application to leave the sandbox stands."""

    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted, awaiting review")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ApplicationDecision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REQUEST_CHANGES = "request_changes", _("Request changes")
    REJECT = "reject", _("Reject")


class DenyKind(models.TextChoices):
    """What a deny-list entry names."""

    PHONE = "phone", _("Account phone number")
    SIM = "sim", _("SIM number")
    DEVICE = "device", _("Device installation id")
