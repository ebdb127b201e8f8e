"""Who makes a change: the one value every auditing service takes as `actor`.

Each interface builds its actor once, from what authenticated the caller, and hands it to
every service it calls:

    admin, console          Actor.for_user(request.user, ip=...)
    REST API (API key)      Actor.for_api_key(api_key, ip=...)
    ChatKit client session  Actor.for_client_session(session_id, end_user_id, ip=...)
    manage.py, tasks        Actor.system()

The audit trail stores the kind, the label and the address (`AuditEvent.actor_kind`,
`actor_label`, `ip`); for a user also the user row, for the user-facing "created by" fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from tenants.models import ApiKey

__all__ = ["SYSTEM", "Actor", "ActorKind"]


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    CLIENT_SESSION = "client_session"
    SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who acted, as the audit trail names them, and from which address.

    `label` is what `AuditEvent.actor_label` keeps ("alice", "api_key:ckp_live_ab12cd34…",
    "client_session:cs_…/end_user:u1", "system"); it outlives the user or key it names.
    """

    kind: ActorKind
    label: str
    ip: str | None = None
    # Set for USER only: audit events and "created by" fields link to the row.
    user: User | None = None
    # Set for API_KEY only.
    api_key_id: int | None = None
    # Set for CLIENT_SESSION; an API key may name the end user it acts for too.
    session_id: str = ""
    end_user_id: str = ""

    @classmethod
    def system(cls, *, label: str = "system", ip: str | None = None) -> Actor:
        """Return the platform itself (a command, a task, the runtime) as the actor."""
        return cls(kind=ActorKind.SYSTEM, label=label, ip=ip)

    @classmethod
    def for_user(cls, user: User, *, ip: str | None = None) -> Actor:
        """Return a signed-in user (the admin, the console) as the actor."""
        return cls(kind=ActorKind.USER, label=user.get_username(), ip=ip, user=user)

    @classmethod
    def for_api_key(cls, api_key: ApiKey, *, ip: str | None = None, end_user_id: str = "") -> Actor:
        """Return a caller authenticated by `api_key` (REST API, server-side endpoint)."""
        return cls(
            kind=ActorKind.API_KEY,
            label=f"api_key:{api_key.display}",
            ip=ip,
            api_key_id=api_key.pk,
            end_user_id=end_user_id,
        )

    @classmethod
    def for_client_session(
        cls, session_id: str, end_user_id: str, *, ip: str | None = None
    ) -> Actor:
        """Return an end user's browser holding client session `session_id`."""
        label = f"client_session:{session_id}/end_user:{end_user_id}"
        return cls(
            kind=ActorKind.CLIENT_SESSION,
            label=label[:200],
            ip=ip,
            session_id=session_id,
            end_user_id=end_user_id,
        )

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


# The default actor of the services: the platform itself, with no address.
SYSTEM = Actor.system()
