from django.db import models


class ProviderStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    BANNED = "banned", "Banned"


class Availability(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    BUSY = "busy", "Busy"


class AvailabilityReason(models.TextChoices):
    """Why a provider's effective availability changed (kept in the history that uptime is computed from)."""

    PROVIDER = "provider", "Set by the provider"
    HEARTBEAT = "heartbeat", "Heartbeat resumed"
    MISSED_HEARTBEATS = "missed_heartbeats", "Missed heartbeats"
    STAFF = "staff", "Staff action"


class Carrier(models.TextChoices):
    SMART = "smart", "Smart"
    METFONE = "metfone", "Metfone"
    CELLCARD = "cellcard", "Cellcard"
    SEATEL = "seatel", "Seatel"
    QB = "qb", "qb (Cadcomms)"
    UNKNOWN = "unknown", "Unknown"


class Platform(models.TextChoices):
    ANDROID = "android", "Android"


class NetworkType(models.TextChoices):
    WIFI = "wifi", "Wi-Fi"
    G5 = "5g", "5G"
    G4 = "4g", "4G"
    G3 = "3g", "3G"
    G2 = "2g", "2G"
    NONE = "none", "No network"
    UNKNOWN = "unknown", "Unknown"


class MatchPriority(models.TextChoices):
    """How urgent the message being matched is; low-priority (bulk) traffic never falls back cross-carrier."""

    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class Province(models.TextChoices):
    PHNOM_PENH = "phnom_penh", "Phnom Penh"
    BANTEAY_MEANCHEY = "banteay_meanchey", "Banteay Meanchey"
    BATTAMBANG = "battambang", "Battambang"
    KAMPONG_CHAM = "kampong_cham", "Kampong Cham"
    KAMPONG_CHHNANG = "kampong_chhnang", "Kampong Chhnang"
    KAMPONG_SPEU = "kampong_speu", "Kampong Speu"
    KAMPONG_THOM = "kampong_thom", "Kampong Thom"
    KAMPOT = "kampot", "Kampot"
    KANDAL = "kandal", "Kandal"
    KEP = "kep", "Kep"
    KOH_KONG = "koh_kong", "Koh Kong"
    KRATIE = "kratie", "Kratie"
    MONDULKIRI = "mondulkiri", "Mondulkiri"
    ODDAR_MEANCHEY = "oddar_meanchey", "Oddar Meanchey"
    PAILIN = "pailin", "Pailin"
    PREAH_SIHANOUK = "preah_sihanouk", "Preah Sihanouk"
    PREAH_VIHEAR = "preah_vihear", "Preah Vihear"
    PREY_VENG = "prey_veng", "Prey Veng"
    PURSAT = "pursat", "Pursat"
    RATANAKIRI = "ratanakiri", "Ratanakiri"
    SIEM_REAP = "siem_reap", "Siem Reap"
    STUNG_TRENG = "stung_treng", "Stung Treng"
    SVAY_RIENG = "svay_rieng", "Svay Rieng"
    TAKEO = "takeo", "Takeo"
    TBOUNG_KHMUM = "tboung_khmum", "Tboung Khmum"
