from django.db import models
from django.utils.translation import gettext_lazy as _


class ProviderStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    BANNED = "banned", _("Banned")


class Availability(models.TextChoices):
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")
    BUSY = "busy", _("Busy")


class AvailabilityReason(models.TextChoices):
    """Why a provider's effective availability changed (kept in the history that uptime is computed from)."""

    PROVIDER = "provider", _("Set by the provider")
    HEARTBEAT = "heartbeat", _("Heartbeat resumed")
    MISSED_HEARTBEATS = "missed_heartbeats", _("Missed heartbeats")
    STAFF = "staff", _("Staff action")


class Carrier(models.TextChoices):
    SMART = "smart", _("Smart")
    METFONE = "metfone", _("Metfone")
    CELLCARD = "cellcard", _("Cellcard")
    SEATEL = "seatel", _("Seatel")
    QB = "qb", _("qb (Cadcomms)")
    UNKNOWN = "unknown", _("Unknown")


class Platform(models.TextChoices):
    ANDROID = "android", _("Android")


class NetworkType(models.TextChoices):
    WIFI = "wifi", _("Wi-Fi")
    G5 = "5g", _("5G")
    G4 = "4g", _("4G")
    G3 = "3g", _("3G")
    G2 = "2g", _("2G")
    NONE = "none", _("No network")
    UNKNOWN = "unknown", _("Unknown")


class MatchPriority(models.TextChoices):
    """How urgent the message being matched is; low-priority (bulk) traffic never falls back cross-carrier."""

    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class Province(models.TextChoices):
    PHNOM_PENH = "phnom_penh", _("Phnom Penh")
    BANTEAY_MEANCHEY = "banteay_meanchey", _("Banteay Meanchey")
    BATTAMBANG = "battambang", _("Battambang")
    KAMPONG_CHAM = "kampong_cham", _("Kampong Cham")
    KAMPONG_CHHNANG = "kampong_chhnang", _("Kampong Chhnang")
    KAMPONG_SPEU = "kampong_speu", _("Kampong Speu")
    KAMPONG_THOM = "kampong_thom", _("Kampong Thom")
    KAMPOT = "kampot", _("Kampot")
    KANDAL = "kandal", _("Kandal")
    KEP = "kep", _("Kep")
    KOH_KONG = "koh_kong", _("Koh Kong")
    KRATIE = "kratie", _("Kratie")
    MONDULKIRI = "mondulkiri", _("Mondulkiri")
    ODDAR_MEANCHEY = "oddar_meanchey", _("Oddar Meanchey")
    PAILIN = "pailin", _("Pailin")
    PREAH_SIHANOUK = "preah_sihanouk", _("Preah Sihanouk")
    PREAH_VIHEAR = "preah_vihear", _("Preah Vihear")
    PREY_VENG = "prey_veng", _("Prey Veng")
    PURSAT = "pursat", _("Pursat")
    RATANAKIRI = "ratanakiri", _("Ratanakiri")
    SIEM_REAP = "siem_reap", _("Siem Reap")
    STUNG_TRENG = "stung_treng", _("Stung Treng")
    SVAY_RIENG = "svay_rieng", _("Svay Rieng")
    TAKEO = "takeo", _("Takeo")
    TBOUNG_KHMUM = "tboung_khmum", _("Tboung Khmum")
