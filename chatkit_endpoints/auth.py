"""Who is calling a ChatKit endpoint: one function per kind of credential.

`authenticate` reads `Authorization: Bearer <token>` and hands the token to the function of
its kind, which returns a `ChatAccess` (the run's context, the served version, the limits of
the credential) or raises the `EndpointError` to answer. All of them are sync (they query
the database): call them through one `database_sync_to_async` hop.

* an API key (`ckp_live_...`) with the chat scope: server to server; the end user comes
  from the required `X-ChatKit-User` header;
* a client secret (`ckcs_...`) minted by the sessions API: the session names the end user
  (`X-ChatKit-User` is not read), the agent, the pinned version, the expiry, the rate limit
  and the ChatKit configuration.

The tenant and agent in the path must be the credential's; every answer about a credential
is the same whatever made it unusable (unknown, expired, revoked, cancelled), so a caller
learns nothing about keys it does not hold.
"""

from __future__ import annotations

import re

from chatkit_endpoints.errors import EndpointError, unauthorized
from hosted_agents.chat_access import (
    ApiKeyCredential,
    ChatAccess,
    ClientSecretCredential,
    CredentialMismatch,
    chat_context_build,
)
from hosted_agents.exceptions import ObjectNotFound
from tenants.exceptions import ApiKeyRejected, ClientSecretRejected
from tenants.key_format import CLIENT_SECRET_PREFIX
from tenants.key_format import PREFIX as API_KEY_PREFIX

__all__ = ["authenticate", "end_user_from_header"]

END_USER_HEADER = b"x-chatkit-user"
END_USER_MAX_LENGTH = 200  # Thread.end_user_id
_PRINTABLE = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")


def bearer_token(headers: dict[bytes, bytes]) -> str:
    value = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = value.partition(" ")
    if not value:
        raise unauthorized("Send the credential as `Authorization: Bearer <API key or secret>`.")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("The Authorization header must be `Bearer <API key or secret>`.")
    return token.strip()


def end_user_from_header(headers: dict[bytes, bytes]) -> str:
    """Return the end user named by `X-ChatKit-User`, or raise a 400 without one."""
    value = headers.get(END_USER_HEADER, b"").decode("latin-1").strip()
    if not value:
        raise EndpointError(
            400,
            "missing_end_user",
            "With an API key, name the end user in the X-ChatKit-User header: each end "
            "user sees only their own threads.",
        )
    if len(value) > END_USER_MAX_LENGTH or not _PRINTABLE.match(value):
        raise EndpointError(
            400,
            "invalid_end_user",
            f"X-ChatKit-User must be 1 to {END_USER_MAX_LENGTH} printable ASCII characters.",
        )
    return value


def authenticate(
    *, headers: dict[bytes, bytes], tenant_slug: str, agent_slug: str, ip: str | None
) -> ChatAccess:
    """Return the caller's access to the agent, or raise the `EndpointError` to answer."""
    token = bearer_token(headers)
    if token.startswith(API_KEY_PREFIX):
        return api_key_access(token, headers, tenant_slug, agent_slug, ip)
    if token.startswith(CLIENT_SECRET_PREFIX):
        return client_secret_access(token, tenant_slug, agent_slug, ip)
    raise unauthorized("This token is neither an API key nor a client secret.")


def api_key_access(
    token: str, headers: dict[bytes, bytes], tenant_slug: str, agent_slug: str, ip: str | None
) -> ChatAccess:
    end_user_id = end_user_from_header(headers)
    try:
        return chat_context_build(
            tenant_slug=tenant_slug,
            agent_slug=agent_slug,
            end_user_id=end_user_id,
            credential=ApiKeyCredential(token, ip=ip),
        )
    except ApiKeyRejected:
        raise unauthorized(
            "This API key cannot be used: it is unknown, expired or revoked, or it lacks "
            "the chat scope."
        ) from None
    except CredentialMismatch as error:
        raise mismatch(error) from None
    except ObjectNotFound:
        raise agent_not_found(agent_slug) from None


def client_secret_access(
    token: str, tenant_slug: str, agent_slug: str, ip: str | None
) -> ChatAccess:
    try:
        return chat_context_build(
            tenant_slug=tenant_slug,
            agent_slug=agent_slug,
            end_user_id="",  # the session's
            credential=ClientSecretCredential(token, ip=ip),
        )
    except ClientSecretRejected:
        raise unauthorized(
            "This client secret cannot be used: it is unknown, expired or cancelled. "
            "Fetch a fresh one from your backend."
        ) from None
    except CredentialMismatch as error:
        raise mismatch(error) from None


def mismatch(error: CredentialMismatch) -> EndpointError:
    return EndpointError(
        403,
        "credential_mismatch",
        f"This credential is not valid for this {error.what}: use the endpoint of the "
        f"{error.what} it was issued for.",
    )


def agent_not_found(agent_slug: str) -> EndpointError:
    return EndpointError(404, "agent_not_found", f"This workspace has no agent {agent_slug!r}.")
