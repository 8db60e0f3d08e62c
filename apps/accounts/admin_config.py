"""The admin app's configuration (INSTALLED_APPS), apart from the site so it loads before the models."""

from django.contrib.admin.apps import AdminConfig


class PeerPowerAdminConfig(AdminConfig):
    """Django's admin app, on PeerPower's site class (a TOTP second factor for staff when ADMIN_OTP_REQUIRED)."""

    default_site = "apps.accounts.admin_site.PeerPowerAdminSite"
