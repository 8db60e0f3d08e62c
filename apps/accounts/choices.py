from django.db import models


class Language(models.TextChoices):
    KHMER = "km", "ខ្មែរ"
    ENGLISH = "en", "English"


class OtpPurpose(models.TextChoices):
    LOGIN = "login", "Sign-up / login"
    SIM_VERIFICATION = "sim_verification", "SIM ownership"


class ChallengeKind(models.TextChoices):
    DID = "did", "DID key binding"
    WALLET = "wallet", "EVM wallet binding (SIWE)"


class ClientRole(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"


class ApplicationStatus(models.TextChoices):
    """Where a client's application to leave the sandbox stands."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted, awaiting review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ApplicationDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    REJECT = "reject", "Reject"


class DenyKind(models.TextChoices):
    """What a deny-list entry names."""

    PHONE = "phone", "Account phone number"
    SIM = "sim", "SIM number"
    DEVICE = "device", "Device installation id"
