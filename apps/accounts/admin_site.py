"""The admin site: Django's, plus a TOTP second factor (django-otp) for staff when ADMIN_OTP_REQUIRED.

With it on, the login form asks for the code from the staff member's TOTP device (enrolled by a superuser under
"TOTP devices"), and a session that signed in without one is not let in. Repeated failed logins lock the phone number
and address out (django-axes, AXES_* settings). Off in development and tests; production turns it on.
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm

from apps.accounts.phone import normalize_phone
from apps.core.errors import DomainError


class PeerPowerAdminSite(AdminSite):
    @property
    def login_form(self) -> type | None:  # type: ignore[override]
        return OTPAdminAuthenticationForm if settings.ADMIN_OTP_REQUIRED else None

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return "otp/admin111/login.html" if settings.ADMIN_OTP_REQUIRED else None

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        # OTPMiddleware marks a user verified when this session passed a TOTP check.
        return not settings.ADMIN_OTP_REQUIRED or request.user.is_verified()


def admin_login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the admin login's number as E.164, so failures typed in any format count together."""
    typed = (credentials or {}).get("username") or request.POST.get("username")
    if not typed:
        return None
    try:
        return normalize_phone(typed, require_mobile=False, allowed_regions=[]).e164
    except DomainError:
        return typed
