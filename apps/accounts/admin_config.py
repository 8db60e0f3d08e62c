"""The admin app's configuration (INSTALLED_APPS), apart from the site so it loads before the models; and the
configurations of two third-party apps whose names the back office shows, given a name staff can read."""

from axes.apps import AppConfig as DjangoAxesConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.apps import DefaultConfig as DjangoOtpTotpConfig


class PeerPowerAdminConfig(AdminConfig):
    """Django's admin app, on PeerPower's site class (a TOTP second factor for staff when ADMIN_OTP_REQUIRED)."""

    default_site = "apps.accounts.admin_site.PeerPowerAdminSite"


class AxesConfig(DjangoAxesConfig):
    """django-axes, named in the staff member's language (its own name, "Axes", is not translated)."""

    verbose_name = _("Sign-in lockouts")


class OtpTotpConfig(DjangoOtpTotpConfig):
    """django-otp's TOTP devices, named in the staff member's language (its own name is its label, "Otp_Totp")."""

    verbose_name = _("Second factor (TOTP)")
