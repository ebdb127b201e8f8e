"""The platform's ChatKit server: answers a thread with the agent's published version.

`PlatformChatKitServer.respond()`:

1. loads, in one sync step, the tenant (active?), the agent's published version, the month's
   usage against the tenant's quota and the provider credential; a refusal is an `error`
   event with a clear message, before any model call;
2. gives the thread a title from the first user message;
3. builds the openai-agents `Agent` (instructions, model with a client of its own, model
   settings with the output tokens capped at the quota left, tools) and runs it streamed
   over the thread's history through chatkit_core's bridge, under a run id of its own;
4. when the run ends, however it ends: records token usage per tenant, agent and day, and
   stamps the items this run produced with the version number and model that produced them;
5. maps provider failures (bad key, rate limit, timeout, unreachable, HTTP errors) to an
   `error` event the user can act on and an `agent.run_failed` audit event for the admin
   (with secrets redacted from the provider's message); items left half-streamed are
   removed, so the thread holds only complete items.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import openai
from agents import Agent as SdkAgent
from agents import ModelSettings, Runner
from agents.exceptions import AgentsException, MaxTurnsExceeded
from channels.db import database_sync_to_async
from django.conf import settings

from chatkit_core.agents import AgentContext, stream_agent_response
from chatkit_core.errors import CustomStreamError
from chatkit_core.server import ChatKitServer
from chatkit_core.types import (
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from hosted_agents import http_fetch
from hosted_agents.exceptions import (
    AgentMisconfigured,
    AgentNotPublished,
    HostedAgentsError,
    ObjectNotFound,
    QuotaExhausted,
    TenantInactive,
)
from hosted_agents.metering import output_token_cap, quota_check, usage_record_or_log
from hosted_agents.models import Agent, AgentVersion
from hosted_agents.providers import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_SECONDS,
    ProviderConfig,
    ProviderModel,
    model_settings_build,
    provider_config_resolve,
    provider_model_build,
)
from hosted_agents.selectors import agent_published_version, http_tool_headers
from hosted_agents.services.item_origin import thread_items_mark_origin
from hosted_agents.tools.build import tools_build
from hosted_agents.tools.client import stop_at_client_tool_call
from hosted_agents.tools.code import LongToolRunner
from hosted_agents.tools.http import Fetcher
from tenants.actors import Actor, ActorKind
from tenants.models import Tenant
from tenants.services.audit import audit_event_record
from tenants.store import DjangoStore

__all__ = [
    "PlatformChatKitServer",
    "RequestContext",
    "RunPlan",
    "redact",
    "run_plan_load",
]

logger = logging.getLogger(__name__)

TITLE_LENGTH = 60
DEFAULT_MAX_TURNS = 10


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: set once by authentication, never from the request body."""

    tenant: Tenant
    agent: Agent
    end_user_id: str
    api_key_id: int | None = None
    ip: str | None = None

    @property
    def actor_label(self) -> str:
        if self.api_key_id is not None:
            return f"api_key:{self.api_key_id}"
        return f"end_user:{self.end_user_id}" if self.end_user_id else "end_user"


@dataclass(frozen=True)
class RunPlan:
    tenant: Tenant
    agent: Agent
    version: AgentVersion
    provider: ProviderConfig
    # Tokens left of the monthly quota when the run starts; None without a quota.
    remaining_tokens: int | None = None


def run_plan_load(*, tenant: Tenant, agent_id: int) -> RunPlan:
    """Return what a run needs, or raise the `DomainError` that refuses it (sync)."""
    # Re-read: the tenant may have been suspended or its quota changed since authentication.
    fresh = Tenant.objects.filter(pk=tenant.pk).first()
    if fresh is None:
        raise ObjectNotFound("tenant", tenant.pk)
    if not fresh.is_active:
        raise TenantInactive(f"tenant {fresh.slug} is suspended")
    agent, version = agent_published_version(tenant=fresh, agent_id=agent_id)
    if version is None:
        raise AgentNotPublished(agent.slug)
    remaining = quota_check(tenant=fresh)
    provider = provider_config_resolve(tenant=fresh, config=version.config)
    return RunPlan(fresh, agent, version, provider, remaining_tokens=remaining)


# --------------------------------------------------------------------------- messages

_REFUSALS: list[tuple[type[Exception], str]] = [
    (ObjectNotFound, "This agent does not exist."),
    (TenantInactive, "This workspace is suspended, so its agents cannot answer."),
    (AgentNotPublished, "This agent has not been published yet, so it cannot answer."),
    (
        QuotaExhausted,
        "This workspace has used all of its tokens for this month. "
        "Please ask its administrator to raise the quota.",
    ),
    (
        AgentMisconfigured,
        "This agent is misconfigured and cannot answer. Its administrator has been notified.",
    ),
]

# (error class, message, allow_retry); the first matching class wins, so subclasses first.
_PROVIDER_FAILURES: list[tuple[type[Exception], str, bool]] = [
    (
        openai.AuthenticationError,
        "The AI provider rejected this agent's API key. Its administrator has been notified.",
        False,
    ),
    (
        openai.PermissionDeniedError,
        "The AI provider refused access to this agent's model. "
        "Its administrator has been notified.",
        False,
    ),
    (
        openai.RateLimitError,
        "The AI provider is receiving too many requests for this agent right now. "
        "Please try again in a minute.",
        True,
    ),
    (openai.APITimeoutError, "The AI provider did not answer in time. Please try again.", True),
    (
        openai.APIConnectionError,
        "The AI provider could not be reached. Please try again in a moment.",
        True,
    ),
    (openai.APIStatusError, "The AI provider returned an error (HTTP {status}).", True),
    (openai.APIError, "The AI provider failed while answering. Please try again.", True),
    (MaxTurnsExceeded, "The agent used too many steps without finishing its answer.", True),
    (AgentsException, "The agent could not finish its answer. Please try again.", True),
]


def _refusal(error: HostedAgentsError | ObjectNotFound | TenantInactive) -> CustomStreamError:
    message = next(text for kind, text in _REFUSALS if isinstance(error, kind))
    return CustomStreamError(message, allow_retry=False)


def _provider_failure(error: Exception) -> CustomStreamError | None:
    for kind, message, allow_retry in _PROVIDER_FAILURES:
        if isinstance(error, kind):
            status = getattr(error, "status_code", None)
            return CustomStreamError(message.format(status=status), allow_retry=allow_retry)
    return None


_TOKEN_LOOKING = [
    (re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}"), "sk-[redacted]"),
    (re.compile(r"\bBearer\s+[A-Za-z0-9_\-*.~+/=]+", re.IGNORECASE), "Bearer [redacted]"),
]


def redact(text: str, secrets: list[str]) -> str:
    """Return `text` without `secrets` and without anything that looks like an API key.

    Providers quote the key they were given in some error messages (in full or masked);
    those messages go to the audit trail and the log, which admins and operators read.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _TOKEN_LOOKING:
        text = pattern.sub(replacement, text)
    return text


def title_from(item: UserMessageItem) -> str | None:
    """Return a short thread title made from a user message's text, or None if it has none."""
    text = " ".join(part.text for part in item.content if getattr(part, "type", "") == "input_text")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return None
    if len(text) <= TITLE_LENGTH:
        return text
    return text[: TITLE_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


# --------------------------------------------------------------------------- the server


class PlatformChatKitServer(ChatKitServer[RequestContext]):
    """The ChatKit server of one tenant's agent endpoint, over the tenant's `DjangoStore`.

    The keyword arguments are seams for operators and tests: the model client's timeout and
    retries, the long-running tool runner, the HTTP fetch, and the turn limit.
    """

    store: DjangoStore[RequestContext]

    def __init__(
        self,
        store: DjangoStore[RequestContext],
        *,
        model_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        model_max_retries: int = DEFAULT_MAX_RETRIES,
        long_tool_runner: LongToolRunner | None = None,
        http_fetcher: Fetcher = http_fetch.fetch,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        super().__init__(store)
        self.model_timeout_seconds = model_timeout_seconds
        self.model_max_retries = model_max_retries
        self.long_tool_runner = long_tool_runner
        self.http_fetcher = http_fetcher
        self.max_turns = max_turns

    @classmethod
    def for_request(cls, context: RequestContext, **options: Any) -> PlatformChatKitServer:
        """Return a server whose store holds only this end user's threads with this agent.

        Raise ValueError for a context without an end user id: the endpoint always sets
        one, and an empty id would give every anonymous user one shared history. Raise
        `ObjectNotFound`, as for a missing agent, when the agent is another tenant's: a
        store is never narrowed to a foreign agent.
        """
        if not context.end_user_id:
            raise ValueError("PlatformChatKitServer.for_request needs context.end_user_id")
        if context.agent.tenant_id != context.tenant.pk:
            raise ObjectNotFound("agent", context.agent.pk)
        store: DjangoStore[RequestContext] = DjangoStore(
            context.tenant, agent=context.agent, end_user_id=context.end_user_id
        )
        return cls(store, **options)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        plan = await self._plan(context)
        if thread.title is None and input_user_message is not None:
            thread.title = title_from(input_user_message)
        provider = provider_model_build(
            plan.provider,
            timeout_seconds=self.model_timeout_seconds,
            max_retries=self.model_max_retries,
        )
        try:
            async for event in self._run(plan, provider, thread, input_user_message, context):
                yield event
        finally:
            await provider.aclose()

    async def _plan(self, context: RequestContext) -> RunPlan:
        # The store fixes the tenant; a context naming another tenant reaches nothing.
        if context.tenant.pk != self.store.tenant.pk:
            raise _refusal(ObjectNotFound("agent", context.agent.pk))
        try:
            plan: RunPlan = await database_sync_to_async(run_plan_load)(
                tenant=self.store.tenant, agent_id=context.agent.pk
            )
            return plan
        except AgentMisconfigured as error:
            await self._audit_failure(context, context.agent, None, error)
            raise _refusal(error) from error
        except (HostedAgentsError, ObjectNotFound, TenantInactive) as error:
            logger.info("Refused a run of agent %s: %s", context.agent.pk, error)
            raise _refusal(error) from error

    def _sdk_agent(self, plan: RunPlan, provider: ProviderModel, run_id: str) -> SdkAgent[Any]:
        config = plan.version.config
        tenant_id = plan.tenant.pk

        async def load_headers(tool_id: int) -> dict[str, str]:
            headers: dict[str, str] = await database_sync_to_async(http_tool_headers)(
                tenant=tenant_id, tool_id=tool_id
            )
            return headers

        tools = tools_build(
            config.get("tools", []),
            tenant_id=tenant_id,
            run_id=run_id,
            allow_private_http=settings.CHATKIT_ALLOW_PRIVATE_NETWORK,
            load_headers=load_headers,
            long_tool_runner=self.long_tool_runner,
            fetcher=self.http_fetcher,
        )
        return SdkAgent[AgentContext[RequestContext]](
            name=config.get("name") or plan.agent.name,
            instructions=config.get("instructions") or None,
            model=provider.model,
            model_settings=_model_settings(config.get("model_settings", {}), plan),
            tools=list(tools),
            tool_use_behavior=stop_at_client_tool_call,
        )

    async def _run(
        self,
        plan: RunPlan,
        provider: ProviderModel,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        try:
            sdk_agent = self._sdk_agent(plan, provider, uuid.uuid4().hex)
        except AgentMisconfigured as error:
            await self._audit_failure(context, plan.agent, plan, error)
            raise _refusal(error) from error
        history: Any = await self._to_agent_input(thread, input_user_message) or []
        agent_context = AgentContext[RequestContext](
            thread=thread, store=self.store, request_context=context
        )
        result = Runner.run_streamed(
            sdk_agent, history, context=agent_context, max_turns=self.max_turns
        )
        items = _RunItems()
        try:
            async for event in stream_agent_response(agent_context, result):
                items.track(event)
                yield event
        except Exception as error:
            failure = _provider_failure(error)
            if failure is None:
                raise
            # Half-streamed items would stay on the user's screen but never in the thread.
            for item_id in items.unfinished():
                removed = ThreadItemRemovedEvent(item_id=item_id)
                items.track(removed)
                yield removed
            await self._audit_failure(context, plan.agent, plan, error)
            raise failure from error
        finally:
            if agent_context.workflow_item is not None:
                items.produced[agent_context.workflow_item.id] = None  # stored, not streamed
            await self._after_run(plan, provider, thread, items, result.context_wrapper.usage)

    async def _after_run(
        self,
        plan: RunPlan,
        provider: ProviderModel,
        thread: ThreadMetadata,
        items: _RunItems,
        usage: Any,
    ) -> None:
        try:
            await database_sync_to_async(_run_record)(
                plan=plan,
                thread_id=thread.id,
                item_ids=list(items.produced),
                model_name=provider.model_name,
                input_tokens=int(usage.input_tokens or 0),
                output_tokens=int(usage.output_tokens or 0),
            )
        except Exception:
            # The answer is already out: a bookkeeping failure must not turn it into an error.
            logger.exception("Recording the run of agent %s failed", plan.agent.pk)

    async def _audit_failure(
        self,
        context: RequestContext,
        agent: Agent,
        plan: RunPlan | None,
        error: Exception,
    ) -> None:
        secrets = [plan.provider.api_key] if plan is not None else []
        details: dict[str, Any] = {
            "error": type(error).__name__,
            "status": getattr(error, "status_code", None),
            "message": redact(str(error), secrets)[:500],
        }
        if plan is not None:
            details |= {
                "version": plan.version.number,
                "model": plan.provider.model,
                "provider": plan.provider.kind,
                "credential_id": plan.provider.credential_id,
            }
        logger.warning("Run of agent %s failed: %s", agent.pk, details)
        await database_sync_to_async(_audit_record)(
            tenant=self.store.tenant, agent=agent, context=context, details=details
        )


def _model_settings(values: dict[str, Any], plan: RunPlan) -> ModelSettings:
    built = model_settings_build(values)
    return replace(built, max_tokens=output_token_cap(built.max_tokens, plan.remaining_tokens))


@dataclass
class _RunItems:
    """The ids of the items one run put in the thread (dicts: ordered sets)."""

    produced: dict[str, None] = field(default_factory=dict)
    _open: dict[str, None] = field(default_factory=dict)

    def track(self, event: ThreadStreamEvent) -> None:
        if isinstance(event, ThreadItemAddedEvent):
            self.produced[event.item.id] = self._open[event.item.id] = None
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemReplacedEvent):
            self.produced[event.item.id] = None
            self._open.pop(event.item.id, None)
        elif isinstance(event, ThreadItemRemovedEvent):
            self.produced.pop(event.item_id, None)
            self._open.pop(event.item_id, None)

    def unfinished(self) -> list[str]:
        return list(self._open)


def _run_record(
    *,
    plan: RunPlan,
    thread_id: str,
    item_ids: list[str],
    model_name: str,
    input_tokens: int,
    output_tokens: int,
) -> None:
    usage_record_or_log(
        tenant_id=plan.tenant.pk,
        agent_id=plan.agent.pk,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
    thread_items_mark_origin(
        tenant=plan.tenant,
        thread_id=thread_id,
        item_ids=item_ids,
        agent_version=plan.version.number,
        model=model_name,
    )


def _audit_record(
    *, tenant: Tenant, agent: Agent, context: RequestContext, details: dict[str, Any]
) -> None:
    kind = ActorKind.API_KEY if context.api_key_id is not None else ActorKind.SYSTEM
    actor = Actor(kind=kind, label=context.actor_label, ip=context.ip)
    audit_event_record(
        tenant=tenant, actor=actor, action="agent.run_failed", target=agent, after=details
    )
