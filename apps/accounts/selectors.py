"""Identity reads for the API and the admin."""

from django.db.models import QuerySet

from apps.accounts.choices import ClientRole
from apps.accounts.errors import ApiKeyInvalid, ApiKeyRevoked, ApplicationNotFound
from apps.accounts.models import ApiKey, ClientApplication, ClientMembership, ClientOrganization, DeviceSession, User
from apps.core.converters import DATABASE_ID_MAX
from apps.core.errors import NotFound, PermissionDenied


def sessions_of(*, user: User) -> QuerySet[DeviceSession]:
    """The user's signed-in devices, most recently used first."""
    return DeviceSession.objects.filter(user=user, revoked_at__isnull=True).order_by("-last_used_at")


def session_of(*, user: User, session_id: int) -> DeviceSession:
    """One of the user's own open sessions; anyone else's looks like it does not exist."""
    session = sessions_of(user=user).filter(pk=session_id).first()
    if session is None:
        raise NotFound()
    return session


def clients_of(*, user: User) -> QuerySet[ClientOrganization]:
    return ClientOrganization.objects.filter(memberships__user=user).select_related("plan").order_by("-created_at")


def client_membership(*, user: User, client_id: int, owner: bool = False) -> ClientMembership:
    """The user's membership of a client organisation: 404 for non-members (and for ids no row can have: a client
    may send any integer, and the database refuses one past its 64-bit range), 403 when ownership is needed."""
    if not 0 < client_id <= DATABASE_ID_MAX:
        raise NotFound()
    membership = (
        ClientMembership.objects.select_related("organization__plan")
        .filter(user=user, organization_id=client_id)
        .first()
    )
    if membership is None:
        raise NotFound()
    if owner and membership.role != ClientRole.OWNER:
        raise PermissionDenied(code="client_owner_required")
    return membership


def api_keys_of(*, organization: ClientOrganization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).order_by("-created_at")


def api_key_of(*, organization: ClientOrganization, key_id: int) -> ApiKey:
    key = api_keys_of(organization=organization).filter(pk=key_id).first()
    if key is None:
        raise NotFound()
    return key


def api_key_by_secret(*, secret: str) -> ApiKey:
    """The active key with this secret (one indexed lookup), or a 401 error with a stable code."""
    from apps.accounts.services import hash_api_key

    key = ApiKey.objects.select_related("organization__plan").filter(secret_hash=hash_api_key(secret)).first()
    if key is None:
        raise ApiKeyInvalid()
    if key.revoked_at is not None:
        raise ApiKeyRevoked()
    return key


def organization_names(ids: list[int]) -> dict[int, str]:
    """Client organisations' names by id, in one query (the back office's tables)."""
    return dict(ClientOrganization.objects.filter(pk__in=ids).values_list("pk", "name"))


def client_application_of(*, organization: ClientOrganization) -> ClientApplication:
    application = ClientApplication.objects.filter(organization=organization).first()
    if application is None:
        raise ApplicationNotFound()
    return application


def sandbox_number_is_verified(*, organization: ClientOrganization, phone: str) -> bool:
    """Whether `phone` (E.164) belongs to a member of the organisation: every account's number was proven by a
    sign-in code, so a sandboxed client can reach its own people and nobody else."""
    return ClientMembership.objects.filter(organization=organization, user__phone=phone).exists()
