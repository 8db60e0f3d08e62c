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
