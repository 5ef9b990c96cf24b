"""Local sign-in: who is this person, and may they have a token?

Membership and role come from the tenant directory (the event-sourced truth); only the
password hash comes from the credential store. A removed member's hash is deleted
(``forget_removed_user``, data minimisation), and a removed member could not sign in even
if one were left behind; a suspended tenant's users cannot sign in.
"""

from __future__ import annotations

from smdh.application.ports import CredentialStore, SecretHasher
from smdh.application.principals import AuthenticationFailed, Principal
from smdh.application.projections import DeviceRegistry, TenantDirectory
from smdh.domain.shared.errors import NotFound, ValidationError
from smdh.domain.shared.ids import DeviceId, TenantId, UserId
from smdh.domain.tenancy.tenant import TenantStatus

MIN_PASSWORD_LENGTH = 10
# Verifying against a dummy hash when the user is unknown keeps the response time the same,
# so timing does not reveal which user names exist.
_DUMMY_SECRET = "not-a-real-password-0000"  # noqa: S105 - compared against, never accepted


class IdentityService:
    def __init__(
        self, directory: TenantDirectory, credentials: CredentialStore, hasher: SecretHasher
    ) -> None:
        self._directory = directory
        self._credentials = credentials
        self._hasher = hasher
        self._dummy_hash = ""

    def set_operator_password(self, name: str, password: str) -> Principal:
        principal = Principal.operator(UserId(name))
        self._credentials.set_password_hash(None, principal.subject, self._hash(password))
        return principal

    def set_user_password(self, tenant_id: TenantId, user_id: UserId, password: str) -> Principal:
        member = self._directory.user(tenant_id, user_id)
        if member is None:
            raise NotFound(f"user {user_id} not found")
        self._credentials.set_password_hash(tenant_id, user_id, self._hash(password))
        return Principal.user(tenant_id, user_id, member.role)

    def forget_removed_user(self, tenant_id: TenantId, user_id: UserId) -> bool:
        """Deletes the password hash of a user who is no longer a member of the tenant (call
        it once ``RemoveUser`` has been handled); False, deleting nothing, for a member.

        A hash is kept per (tenant, user): it only ever opens that tenant, so it goes with
        that membership, while the same user id's membership of another tenant and its own
        hash there are untouched. A user invited back meanwhile keeps the new one.
        """
        if self._directory.user(tenant_id, user_id) is not None:
            return False
        self._credentials.delete(tenant_id, user_id)
        return True

    def authenticate(self, tenant_id: str | None, username: str, password: str) -> Principal:
        stored = None
        if UserId.is_valid(username) and (tenant_id is None or TenantId.is_valid(tenant_id)):
            stored = self._credentials.password_hash(tenant_id, username)
        if stored is None:
            self._hasher.verify(password, self._dummy())
            raise AuthenticationFailed("unknown user or wrong password")
        if not self._hasher.verify(password, stored):
            raise AuthenticationFailed("unknown user or wrong password")
        if tenant_id is None:
            return Principal.operator(username)
        tenant = self._directory.tenant(tenant_id)
        member = self._directory.user(tenant_id, username)
        if tenant is None or member is None or tenant.status is not TenantStatus.ACTIVE:
            raise AuthenticationFailed("unknown user or wrong password")
        return Principal.user(tenant_id, username, member.role)

    def _hash(self, password: str) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        if len(password) > 1024:
            raise ValidationError("password is longer than 1024 characters")
        return self._hasher.hash(password)

    def _dummy(self) -> str:
        if not self._dummy_hash:
            self._dummy_hash = self._hasher.hash(_DUMMY_SECRET)
        return self._dummy_hash


class DeviceAuthenticator:
    """Devices sign in with ``<tenant>:<device>`` and the secret issued at registration.

    Used by the MQTT broker on connect and by ``POST /v1/ingest`` (HTTP Basic). The tenant
    of the resulting principal is the registry's, so a device can only ever write as itself.
    """

    def __init__(self, devices: DeviceRegistry, hasher: SecretHasher) -> None:
        self._devices = devices
        self._hasher = hasher

    def authenticate(self, username: str, secret: str) -> Principal:
        tenant_id, sep, device_id = username.partition(":")
        if not sep or not TenantId.is_valid(tenant_id) or not DeviceId.is_valid(device_id):
            raise AuthenticationFailed("unknown device or wrong secret")
        entry = self._devices.lookup(tenant_id, device_id)
        if entry is None or not self._hasher.verify(secret, entry.credential_hash):
            raise AuthenticationFailed("unknown device or wrong secret")
        if not entry.accepts_readings:
            raise AuthenticationFailed("device is decommissioned")
        return Principal.device(tenant_id, device_id)
