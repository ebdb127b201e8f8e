"""POST /v1/chatkit/sessions and POST /v1/chatkit/sessions/{id}/cancel.

Field names, defaults and limits follow OpenAI's hosted API (the `openai` package's
`types/beta/chatkit/` is the reference); the limits themselves live in the service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import AfterValidator, ConfigDict, Field, StrictInt, StrictStr

from chatkit_endpoints.openai_api.auth import request_actor, request_tenant
from chatkit_endpoints.openai_api.items import unix_seconds
from hosted_agents.selectors import agent_get_by_workflow
from tenants.exceptions import InvalidInput
from tenants.key_format import CLIENT_SECRET_PREFIX
from tenants.models import ClientSession
from tenants.services import client_session_cancel, client_session_create
from tenants.services.client_sessions import (
    DEFAULT_EXPIRES_AFTER_SECONDS,
    DEFAULT_MAX_REQUESTS_PER_1_MINUTE,
    MAX_EXPIRES_AFTER_SECONDS,
    MAX_FILE_SIZE_MB,
    MAX_FILES,
    MAX_RECENT_THREADS,
    MAX_REQUESTS_PER_1_MINUTE,
    STATE_KEY_MAX_LENGTH,
)

router = Router(tags=["sessions"])


class _In(Schema):
    model_config = ConfigDict(extra="forbid")


class TracingIn(_In):
    enabled: bool = True


def _state_value(value: Any) -> str | int | float | bool:
    # Checked by type rather than as a union of strict types: one error, at the variable,
    # and JSON true stays a boolean, "1" a string.
    if not isinstance(value, str | int | float):  # bool is an int
        raise ValueError("must be a string, a number or a boolean")
    return value


StateKey = Annotated[str, Field(min_length=1, max_length=STATE_KEY_MAX_LENGTH)]
StateValue = Annotated[Any, AfterValidator(_state_value)]


class WorkflowIn(_In):
    id: str = Field(min_length=1, max_length=100)
    # OpenAI sends a string; a published version number here ("3", or 3).
    version: StrictStr | StrictInt | None = None
    state_variables: dict[StateKey, StateValue] = Field(default_factory=dict)
    tracing: TracingIn = Field(default_factory=TracingIn)


class ExpiresAfterIn(_In):
    anchor: Literal["created_at"]
    seconds: int = Field(ge=1, le=MAX_EXPIRES_AFTER_SECONDS)


class RateLimitsIn(_In):
    max_requests_per_1_minute: int = Field(
        default=DEFAULT_MAX_REQUESTS_PER_1_MINUTE, ge=1, le=MAX_REQUESTS_PER_1_MINUTE
    )


class AutomaticThreadTitlingIn(_In):
    enabled: bool = True


class FileUploadIn(_In):
    enabled: bool = False
    max_file_size: int | None = Field(default=None, ge=1, le=MAX_FILE_SIZE_MB)
    max_files: int | None = Field(default=None, ge=1, le=MAX_FILES)


class HistoryIn(_In):
    enabled: bool = True
    recent_threads: int | None = Field(default=None, ge=1, le=MAX_RECENT_THREADS)


class ChatKitConfigurationIn(_In):
    automatic_thread_titling: AutomaticThreadTitlingIn | None = None
    file_upload: FileUploadIn | None = None
    history: HistoryIn | None = None


class SessionCreateIn(_In):
    user: str = Field(min_length=1, max_length=200)
    workflow: WorkflowIn
    expires_after: ExpiresAfterIn | None = None
    rate_limits: RateLimitsIn | None = None
    chatkit_configuration: ChatKitConfigurationIn | None = None


class EnabledOut(Schema):
    enabled: bool


class WorkflowOut(Schema):
    id: str
    version: str | None
    state_variables: dict[str, StateValue] | None
    tracing: EnabledOut


class RateLimitsOut(Schema):
    max_requests_per_1_minute: int


class FileUploadOut(Schema):
    enabled: bool
    max_file_size: int | None
    max_files: int | None


class HistoryOut(Schema):
    enabled: bool
    recent_threads: int | None


class ChatKitConfigurationOut(Schema):
    automatic_thread_titling: EnabledOut
    file_upload: FileUploadOut
    history: HistoryOut


class _SessionOut(Schema):
    id: str
    object: Literal["chatkit.session"]
    client_secret: str
    expires_at: int
    max_requests_per_1_minute: int
    rate_limits: RateLimitsOut
    status: Literal["active", "expired", "cancelled"]
    user: str
    workflow: WorkflowOut
    chatkit_configuration: ChatKitConfigurationOut


class SessionCreateOut(_SessionOut):
    pass


class SessionCancelOut(_SessionOut):
    pass


def _version(value: str | int | None) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidInput("workflow.version", "must be the number of a published version")
    return int(text)


def _session_out(session: ClientSession, client_secret: str) -> dict[str, Any]:
    return {
        "id": session.public_id,
        "object": "chatkit.session",
        "client_secret": client_secret,
        "expires_at": unix_seconds(session.expires_at),
        "max_requests_per_1_minute": session.max_requests_per_1_minute,
        "rate_limits": {"max_requests_per_1_minute": session.max_requests_per_1_minute},
        "status": session.status_at(timezone.now()),
        "user": session.end_user_id,
        "workflow": {
            "id": session.workflow_ref,
            "version": None if session.version is None else str(session.version),
            "state_variables": session.state_variables or None,
            "tracing": {"enabled": session.tracing_enabled},
        },
        "chatkit_configuration": session.chatkit_configuration,
    }


@router.post("/sessions", response=SessionCreateOut, url_name="session_create")
def session_create(request: HttpRequest, body: SessionCreateIn) -> dict[str, Any]:
    tenant = request_tenant(request)
    agent = agent_get_by_workflow(tenant=tenant, workflow=body.workflow.id)
    configuration = body.chatkit_configuration
    issued = client_session_create(
        tenant=tenant,
        agent=agent,
        user=body.user,
        workflow_ref=body.workflow.id,
        version=_version(body.workflow.version),
        state_variables=body.workflow.state_variables,
        tracing_enabled=body.workflow.tracing.enabled,
        expires_after_seconds=(
            body.expires_after.seconds if body.expires_after else DEFAULT_EXPIRES_AFTER_SECONDS
        ),
        max_requests_per_1_minute=(
            body.rate_limits.max_requests_per_1_minute
            if body.rate_limits
            else DEFAULT_MAX_REQUESTS_PER_1_MINUTE
        ),
        chatkit_configuration=(
            configuration.model_dump(exclude_unset=True, exclude_none=True) if configuration else {}
        ),
        actor=request_actor(request),
    )
    return _session_out(issued.session, issued.client_secret)


@router.post("/sessions/{session_id}/cancel", response=SessionCancelOut, url_name="session_cancel")
def session_cancel(request: HttpRequest, session_id: str) -> dict[str, Any]:
    session = client_session_cancel(
        tenant=request_tenant(request),
        session_id=session_id,
        actor=request_actor(request),
    )
    # The secret itself is stored nowhere; its non-secret start stands in for it.
    return _session_out(session, f"{CLIENT_SECRET_PREFIX}{session.lookup_id}...")
