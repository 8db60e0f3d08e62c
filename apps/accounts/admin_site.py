"""The admin site: Django's, plus a TOTP second factor (django-otp) for staff when ADMIN_OTP_REQUIRED.

With it on, the login form asks for the code from the staff member's TOTP device (enrolled by a superuser under
"TOTP devices"), and a session that signed in without one is not let in. Repeated failed logins lock the phone number
and address out (django-axes, AXES_* settings). Off in development and tests; production turns it on.

Numbers are nowhere at rest in plain text (docs/privacy.md), and a staff member's login name is their phone number:
django-axes keeps a failed attempt under `admin_login_username` — the number's keyed hash, the same however it was
typed — and its log of successful logins, which would store the name as typed, is off (AXES_DISABLE_ACCESS_LOG);
a staff sign-in is audited instead (`staff.signed_in`, the audit log naming the user by id).
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse
from django_otp.admin import OTPAdminAuthenticationForm

from apps.accounts.phone import normalize_phone
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
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
    """AXES_USERNAME_CALLABLE: the admin login's name as django-axes stores and counts it — the keyed hash of the
    number as E.164, so failures typed in any format count together and the number is not kept in plain text (of
    whatever was typed when it is not a number: it may still be one, mistyped)."""
    typed = (credentials or {}).get("username") or request.POST.get("username")
    if not typed:
        return None
    try:
        name = normalize_phone(typed, require_mobile=False, allowed_regions=[]).e164
    except DomainError:
        name = typed.strip()
    return blind_index(name)


@receiver(user_logged_in, dispatch_uid="staff_signed_in")
def staff_signed_in(sender: type, request: HttpRequest | None, user: object, **kwargs: object) -> None:
    """A staff member signed in through the admin's login form: audited, where django-axes' access log is off
    (module). Other logins (a session made by code, as tests make them) are not sign-ins by a person."""
    if getattr(user, "is_staff", False) and request is not None and request.path == reverse("admin:login"):
        audit_record(actor=user, action="staff.signed_in", target=user)
