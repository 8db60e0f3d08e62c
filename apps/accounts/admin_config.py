"""The admin app's configuration (INSTALLED_APPS), apart from the site so it loads before the models; and the
configurations of two third-party apps whose names the back office shows, given a name staff can read."""

from axes.apps import AppConfig as DjangoAxesConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _
from django_celery_beat.apps import BeatConfig as DjangoCeleryBeatConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as DjangoOtpTotpConfig


class PeerPowerAdminConfig(AdminConfig):
    """Django's admin app, on PeerPower's site class (a TOTP second factor for staff when ADMIN_OTP_REQUIRED)."""

    default_site = "apps.accounts.admin_site.PeerPowerAdminSite"


class AxesConfig(DjangoAxesConfig):
    """django-axes, named in the staff member's language (its own name, "Axes", is not translated)."""

    verbose_name = _("Sign-in lockouts")


# django-otp names its TOTP device model and fields in English without gettext: the same English, through gettext,
# so staff read them in their language. Equal to the originals once translation is off, as makemigrations compares
# them: no migration of django-otp's changes.
TOTP_LABELS = {
    "user": (_("user"), _("The user that this device belongs to.")),
    "name": (_("name"), _("The human-readable name of this device.")),
    "confirmed": (_("confirmed"), _("Is this device ready for use?")),
    "throttling_failure_timestamp": (
        _("throttling failure timestamp"),
        _("A timestamp of the last failed verification attempt. Null if last attempt succeeded."),
    ),
    "throttling_failure_count": (_("throttling failure count"), _("Number of successive failed attempts.")),
    "created_at": (_("created at"), _("The date and time when this device was initially created in the system.")),
    "last_used_at": (_("last used at"), _("The most recent date and time this device was used.")),
    "key": (_("key"), _("A hex-encoded secret key of up to 40 bytes.")),
    "step": (_("step"), _("The time step in seconds.")),
    "t0": (_("t0"), _("The Unix time at which to begin counting steps.")),
    "digits": (_("digits"), _("The number of digits to expect in a token.")),
    "tolerance": (_("tolerance"), _("The number of time steps in the past or future to allow.")),
    "drift": (_("drift"), _("The number of time steps the prover is known to deviate from our clock.")),
    "last_t": (
        _("last t"),
        _("The t value of the latest verified token. The next token must be at a higher time step."),
    ),
}


class OtpTotpConfig(DjangoOtpTotpConfig):
    """django-otp's TOTP devices, named in the staff member's language (its own name is its label, "Otp_Totp")."""

    verbose_name = _("Second factor (TOTP)")

    def ready(self) -> None:
        super().ready()
        model = self.get_model("TOTPDevice")
        model._meta.verbose_name = _("TOTP device")
        model._meta.verbose_name_plural = _("TOTP devices")
        for name, (label, help_text) in TOTP_LABELS.items():
            field = model._meta.get_field(name)
            field.verbose_name, field.help_text = label, help_text


class CeleryBeatConfig(DjangoCeleryBeatConfig):
    """django-celery-beat, whose admin shows two columns named after Python names ("Crontab translation", "Human
    readable"): named in the staff member's language."""

    def ready(self) -> None:
        super().ready()
        from django_celery_beat import admin as beat_admin
        from django_celery_beat.models import CrontabSchedule

        beat_admin.PeriodicTaskAdmin.crontab_translation.short_description = _("Schedule in words")
        CrontabSchedule.human_readable.fget.short_description = _("Schedule in words")
