"""The platform's ChatKit server: answers a thread with the agent's published version
(a session's pinned version, or, for the console's playground, the draft: `DRAFT_VERSION`).

`PlatformChatKitServer.respond()`:

1. in its first hop off the event loop, loads what the run needs that the request context
   does not carry (the tenant, agent and published version in one statement unless
   authentication read them; the month's usage if the tenant has a quota; the provider
   credential if the version names one), gives the thread a title from the first user
   message, and writes what the store holds (a new thread, the user's message); a refusal
   is an `error` event with a clear message, before any model call;
2. builds the openai-agents `Agent` (instructions, model with a client of its own, model
   settings with the output tokens capped at the quota left, tools) and runs it streamed
   over the thread's history through chatkit_core's bridge, under a run id of its own;
3. when the run ends, however it ends, in its second hop: writes the items the run produced,
   stamped with the version number and model that produced them, the run's trace spans
   (hosted_agents/tracing.py: one multi-row INSERT, which on PostgreSQL travels in the
   usage statement) and, for a run paused for approval, its state
   (hosted_agents/approvals.py), and records token usage per tenant, agent and day;
4. maps provider failures (bad key, rate limit, timeout, unreachable, HTTP errors) to an
   `error` event the user can act on and an `agent.run_failed` audit event for the admin
   (with secrets redacted from the provider's message); items left half-streamed are
   removed, so the thread holds only complete items.

The server wraps each stream in `DjangoStore.buffered`, so the store holds its writes until
the hops above (tests/hosted_agents/test_runtime_queries.py pins statements and hops).

`action()` answers the Approve / Reject buttons of a paused run's widget: its first hop
records the decision (refused if it was made before) and loads the paused version's plan;
the run then resumes from the saved state, and ends as `respond()` does.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import openai
from agents import Agent as SdkAgent
from agents import ModelSettings, RunConfig, RunContextWrapper, Runner, RunState
from agents.exceptions import AgentsException, MaxTurnsExceeded
from agents.items import ToolApprovalItem
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit_core.actions import Action
from chatkit_core.agents import AgentContext, stream_agent_response
from chatkit_core.errors import CustomStreamError
from chatkit_core.server import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ChatKitServer,
    NonStreamingResult,
    StreamingResult,
)
from chatkit_core.store import AttachmentStore
from chatkit_core.types import (
    ChatKitReq,
    FeedbackKind,
    ItemsListReq,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsListReq,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)
from hosted_agents import http_fetch
from hosted_agents.approvals import (
    APPROVAL_ACTION,
    REJECTION_MESSAGE,
    Decision,
    approval_id_generate,
    approval_widget,
    pending_approval_decide,
)
from hosted_agents.attachment_input import AttachmentConverter
from hosted_agents.capabilities.build import Capabilities, capabilities_build
from hosted_agents.capabilities.handoffs import handoff_build
from hosted_agents.capabilities.stops import guardrail_answer, guardrail_audit
from hosted_agents.exceptions import (
    AgentMisconfigured,
    AgentNotPublished,
    ApprovalDecided,
    HostedAgentsError,
    InvalidInput,
    ObjectNotFound,
    QuotaExhausted,
    TenantInactive,
)
from hosted_agents.instructions import instructions_render
from hosted_agents.metering import (
    output_token_cap,
    quota_check,
    usage_can_carry,
    usage_record_or_log,
)
from hosted_agents.models import Agent, AgentVersion, PendingApproval
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
from hosted_agents.services.agents import agent_draft_config
from hosted_agents.tools.build import tools_build
from hosted_agents.tools.client import stop_at_client_tool_call
from hosted_agents.tools.code import LongToolRunner
from hosted_agents.tools.http import Fetcher
from hosted_agents.tracing import TRACES, SpanRecord, Statement, run_spans_insert_sql
from operations.context import log_context_bind
from operations.metrics import tokens_count
from tenants.actors import Actor, ActorKind
from tenants.client_session_store import ClientSessionStore
from tenants.models import ClientSession, Tenant, Thread
from tenants.services.audit import audit_event_record
from tenants.store import DjangoStore, ItemOrigin, Turn, orm_hop

__all__ = [
    "PlatformChatKitServer",
    "RequestContext",
    "RunPlan",
    "redact",
    "run_plan_load",
]

logger = logging.getLogger(__name__)

TITLE_LENGTH = 60
# The version number recorded on items answered by an agent's draft (a playground session).
DRAFT_VERSION = 0
DEFAULT_MAX_TURNS = 10


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: set once by authentication, never from the request body."""

    tenant: Tenant
    agent: Agent
    end_user_id: str
    api_key_id: int | None = None
    ip: str | None = None
    # A client secret's session: its history rules, titling and state variables apply.
    client_session: ClientSession | None = None
    # The version a session pins (loaded with the session); None serves the published one.
    pinned_version: AgentVersion | None = None
    # The agent's published version, read with the tenant and the agent by this request's
    # authentication (one statement, so a suspension or a new version counts at once):
    # the runtime then reads none of the three again. None: the runtime reads them itself.
    published_version: AgentVersion | None = None

    @property
    def state_variables(self) -> dict[str, str | int | float | bool]:
        """Return the session's `state_variables` ({} for an API key's caller).

        Tools read them from the run context: `ctx.context.request_context.state_variables`.
        """
        if self.client_session is None:
            return {}
        return dict(self.client_session.state_variables or {})

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
    """Return what a run needs, or raise the `DomainError` that refuses it (sync).

    Reads the tenant (suspended? its quota?), the agent and its published version in one
    statement; then the month's usage if the tenant has a quota, and the provider
    credential if the version names one.
    """
    agent, version = agent_published_version(tenant=tenant, agent_id=agent_id)
    return _plan_of(agent.tenant, agent, version)


def run_plan_for(context: RequestContext) -> RunPlan:
    """Return what a run for `context` needs, reading only what the context lacks (sync).

    A session's pinned version, or the published version read by authentication, comes
    with the context; either was read in the authentication statement with the tenant.
    """
    session = context.client_session
    if session is not None and session.serves_draft:
        return _plan_of(context.tenant, context.agent, _draft_version(context.agent))
    version = context.pinned_version or context.published_version
    if version is None:
        return run_plan_load(tenant=context.tenant, agent_id=context.agent.pk)
    if version.tenant_id != context.tenant.pk or version.agent_id != context.agent.pk:
        return _plan_of(context.tenant, context.agent, None)
    return _plan_of(context.tenant, context.agent, version)


def _draft_version(agent: Agent) -> AgentVersion:
    """Return the agent's draft as an unsaved version numbered `DRAFT_VERSION` (sync: reads
    the tools it selects). A draft naming something gone is refused like a broken version."""
    try:
        config = agent_draft_config(agent)
    except InvalidInput as error:
        raise AgentMisconfigured(f"the draft cannot run: {error}") from None
    return AgentVersion(
        tenant_id=agent.tenant_id, agent_id=agent.pk, number=DRAFT_VERSION, config=config
    )


def _plan_of(tenant: Tenant, agent: Agent, version: AgentVersion | None) -> RunPlan:
    if not tenant.is_active:
        raise TenantInactive(f"tenant {tenant.slug} is suspended")
    if version is None:
        raise AgentNotPublished(agent.slug)
    remaining = quota_check(tenant=tenant)
    provider = provider_config_resolve(tenant=tenant, config=version.config)
    return RunPlan(tenant, agent, version, provider, remaining_tokens=remaining)


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
    (ApprovalDecided, "This request was already answered; it cannot be answered again."),
]
_UNKNOWN_APPROVAL = "This approval request does not exist."

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
    if isinstance(error, ObjectNotFound) and error.entity == "approval":
        return CustomStreamError(_UNKNOWN_APPROVAL, allow_retry=False)
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


_REQUEST: TypeAdapter[Any] = TypeAdapter(ChatKitReq)


def _page_size(limit: int | None) -> int | None:
    """The page size chatkit_core's server will ask the store for; None if it refuses."""
    if not limit:
        return DEFAULT_PAGE_SIZE
    return None if limit < 0 else min(limit, MAX_PAGE_SIZE)


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
        attachment_store: AttachmentStore[RequestContext] | None = None,
    ) -> None:
        super().__init__(store, attachment_store)
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
        store: DjangoStore[RequestContext]
        if context.client_session is not None:
            store = ClientSessionStore(context.client_session)
        else:
            store = DjangoStore(
                context.tenant, agent=context.agent, end_user_id=context.end_user_id
            )
        # A message may carry only attachments whose file arrived.
        store.uploaded_attachments_only = True
        return cls(store, **options)

    def prefetch(self, request: bytes) -> None:
        """Make, now and sync, the read that `process(request)` will make (lists only).

        For the endpoint, in the hop that authenticated the request: the list then needs no
        hop of its own. A request that cannot be parsed is left for `process()` to refuse.
        """
        try:
            parsed = _REQUEST.validate_json(request)
        except ValidationError:
            return
        if isinstance(parsed, ThreadsListReq):
            params = parsed.params
            if (limit := _page_size(params.limit)) is not None:
                self.store.prefetch_threads(limit, params.after, params.order)
        elif isinstance(parsed, ItemsListReq):
            items = parsed.params
            if (limit := _page_size(items.limit)) is not None:
                self.store.prefetch_thread_items(items.thread_id, items.after, limit, items.order)

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """Answer one request; a stream's writes are held by the store for the turn's hops.

        The turn starts before `process()`, which checks and writes what a streaming request
        needs before it returns; a request that does not stream writes what it held at once.
        """
        turn = self.store.turn_begin()
        try:
            result = await super().process(request, context)
        except BaseException:
            await self.store.turn_end(turn)
            raise
        if isinstance(result, StreamingResult):
            return StreamingResult(self.store.buffered(result.json_events, turn))
        await self.store.turn_end(turn)
        return result

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        await self.store.add_feedback(thread_id, item_ids, feedback, context)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        title = None
        session = context.client_session
        titling = session is None or session.automatic_thread_titling
        if titling and thread.title is None and input_user_message is not None:
            title = title_from(input_user_message)
        plan = await self._plan(context, thread, title)
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

    async def _plan(
        self, context: RequestContext, thread: ThreadMetadata, title: str | None
    ) -> RunPlan:
        """The turn's first hop: load what the run needs, then write what the store holds."""
        # The store fixes the tenant; a context naming another tenant reaches nothing.
        if context.tenant.pk != self.store.tenant.pk:
            raise _refusal(ObjectNotFound("agent", context.agent.pk))
        try:
            plan: RunPlan = await orm_hop(
                _turn_start, self.store, self.store.turn(), context, thread, title
            )
            return plan
        except AgentMisconfigured as error:
            await self._audit_failure(context, context.agent, None, error)
            raise _refusal(error) from error
        except (HostedAgentsError, ObjectNotFound, TenantInactive) as error:
            logger.info("Refused a run of agent %s: %s", context.agent.pk, error)
            raise _refusal(error) from error

    def _sdk_agent(
        self, plan: RunPlan, provider: ProviderModel, run_id: str, context: RequestContext
    ) -> tuple[Capabilities, SdkAgent[Any]]:
        config = plan.version.config
        # MCP servers, guardrails, handoffs, hosted tools (hosted_agents/capabilities/).
        capabilities = capabilities_build(
            config,
            tenant_id=plan.tenant.pk,
            allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK,
            provider=provider,
        )
        name = config.get("name") or plan.agent.name
        agent = self._agent_for(config, name, provider.model, plan, run_id, context)
        agent.tools += capabilities.tools
        for key, value in capabilities.agent_kwargs.items():
            setattr(agent, key, value)
        for entry in capabilities.handoffs:
            target_config = entry["config"]
            model = capabilities.model_for(target_config["model"]) or provider.model
            target = self._agent_for(target_config, entry["name"], model, plan, run_id, context)
            target.output_guardrails = list(agent.output_guardrails)  # the answer is checked
            capabilities.answers.targets[id(target)] = entry
            agent.handoffs.append(handoff_build(entry, target))
        return capabilities, agent

    def _agent_for(
        self,
        config: dict[str, Any],
        name: str,
        model: Any,
        plan: RunPlan,
        run_id: str,
        context: RequestContext,
    ) -> SdkAgent[Any]:
        """Return the openai-agents Agent of a version's config (its own tools only)."""
        tenant_id = plan.tenant.pk
        instructions = config.get("instructions") or ""
        if context.client_session is not None:
            instructions = instructions_render(instructions, context.client_session.state_variables)

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
            name=name,
            instructions=instructions or None,
            model=model,
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
        resume: _Resume | None = None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        run_id = uuid.uuid4().hex
        log_context_bind(run_id=run_id)
        try:
            capabilities, sdk_agent = self._sdk_agent(plan, provider, run_id, context)
        except AgentMisconfigured as error:
            await self._audit_failure(context, plan.agent, plan, error)
            raise _refusal(error) from error
        agent_context = AgentContext[RequestContext](
            thread=thread, store=self.store, request_context=context
        )
        run_input: Any
        if resume is None:
            converter = AttachmentConverter(plan.tenant)
            run_input = await self._to_agent_input(thread, input_user_message, converter) or []
        else:
            run_input = await _resumed_state(sdk_agent, agent_context, resume)
        # The run's spans are buffered in memory and written in the second hop, unless the
        # client session turned tracing off (the sessions API's `tracing.enabled`).
        trace_id = f"trace_{run_id}"
        session = context.client_session
        traced = session is None or session.tracing_enabled
        if traced:
            TRACES.collect(trace_id)
        # A PII guardrail that redacts filters what the model is sent (capabilities).
        redact = (
            capabilities.run_config.call_model_input_filter if capabilities.run_config else None
        )
        run_config = RunConfig(
            workflow_name=plan.agent.slug, trace_id=trace_id, group_id=thread.id,
            tracing_disabled=not traced, call_model_input_filter=redact,
        )  # fmt: skip
        result = Runner.run_streamed(
            sdk_agent, run_input, context=agent_context, max_turns=self.max_turns,
            run_config=run_config,
        )  # fmt: skip
        items = _RunItems()
        record = _RunRecord(trace_id=trace_id)
        completed = False
        try:
            bridged = capabilities.bridged(result, agent_context)
            async for event in stream_agent_response(agent_context, bridged):
                items.track(event)
                capabilities.answers.see(event, result.current_agent)
                yield event
            # Which handoff target answered: hidden items, after the answer (handoffs.py).
            for event in capabilities.answers.marks(self.store, thread, context):
                items.track(event)
                yield event
            if result.interruptions:
                record.paused = self._paused(thread, context, plan, result)
                done = ThreadItemDoneEvent(item=record.paused.widget)
                items.track(done)
                yield done
            completed = True
        except Exception as error:
            stop = capabilities.stop_for(error)  # a tripped guardrail ends the turn politely
            failure = _provider_failure(error) if stop is None else None
            if stop is None and failure is None:
                raise
            # Half-streamed items would stay on the user's screen but never in the thread;
            # a tripped guardrail withholds all the run made (an output check: the answer).
            for item_id in items.unfinished() if stop is None else list(items.produced):
                removed = ThreadItemRemovedEvent(item_id=item_id)
                items.track(removed)
                yield removed
            if stop is not None:
                async for event in guardrail_answer(self.store, thread, context, stop):
                    items.track(event)
                    yield event
                await database_sync_to_async(guardrail_audit)(plan, context, stop)
                completed = True
                return
            assert failure is not None
            await self._audit_failure(context, plan.agent, plan, error)
            raise failure from error
        finally:
            record.spans = TRACES.release(trace_id)
            if agent_context.workflow_item is not None:
                items.produced[agent_context.workflow_item.id] = None  # stored, not streamed
            failed = await self._after_run(
                plan, provider, thread, items, result.context_wrapper.usage, record
            )
            if completed and failed is not None:
                # The user saw the answer but the thread does not hold it: say so.
                raise failed

    def _paused(
        self, thread: ThreadMetadata, context: RequestContext, plan: RunPlan, result: Any
    ) -> _Paused:
        """Return the widget asking the end user, and the state that resumes the run."""
        calls = [_call_of(item) for item in result.interruptions]
        approval_id = approval_id_generate()
        widget = WidgetItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=timezone.now(),
            widget=approval_widget(approval_id, calls),
            copy_text=", ".join(call["tool"] for call in calls),
        )
        # The context is the request's, rebuilt on resume: nothing of it is saved.
        state = result.to_state().to_json(context_serializer=lambda _: {})
        return _Paused(approval_id, widget, calls, state, context.end_user_id)

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Answer an approval widget's Approve / Reject: record it, then resume the run."""
        if action.type != APPROVAL_ACTION:
            raise CustomStreamError("This action is not supported.", allow_retry=False)
        try:
            payload = _ApprovalPayload.model_validate(action.payload)
        except ValidationError:
            raise CustomStreamError(_UNKNOWN_APPROVAL, allow_retry=False) from None
        plan, source = await self._decide(context, thread, payload)
        approval = source.approval
        if sender is not None and sender.id == approval.widget_item_id:
            decided = approval_widget(approval.public_id, approval.calls, approval.status)
            yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": decided}))
        provider = provider_model_build(
            plan.provider,
            timeout_seconds=self.model_timeout_seconds,
            max_retries=self.model_max_retries,
        )
        resume = _Resume(source, payload.decision)
        try:
            async for event in self._run(plan, provider, thread, None, context, resume):
                yield event
        finally:
            await provider.aclose()

    async def _decide(
        self, context: RequestContext, thread: ThreadMetadata, payload: _ApprovalPayload
    ) -> tuple[RunPlan, ResumeSource]:
        """The action's first hop: write what the store holds, record the decision, plan."""
        if context.tenant.pk != self.store.tenant.pk:
            raise _refusal(ObjectNotFound("agent", context.agent.pk))
        try:
            decided: tuple[RunPlan, ResumeSource] = await orm_hop(
                _resume_start, self.store, self.store.turn(), context, thread, payload
            )
            return decided
        except (HostedAgentsError, ObjectNotFound, TenantInactive) as error:
            logger.info("Refused an approval in thread %s: %s", thread.id, error)
            raise _refusal(error) from error

    async def _after_run(
        self,
        plan: RunPlan,
        provider: ProviderModel,
        thread: ThreadMetadata,
        items: _RunItems,
        usage: Any,
        record: _RunRecord,
    ) -> Exception | None:
        """The turn's second hop: write the run's items, its trace, its pause, its usage.

        Return the exception that kept the items from being written, if one did; usage is
        recorded either way, and a failure to record it is only logged (the answer is out).
        """
        origin = ItemOrigin(
            thread_id=thread.id,
            item_ids=set(items.produced),
            agent_version=plan.version.number,
            model=provider.model_name,
        )
        input_tokens, output_tokens = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
        tokens_count(plan.tenant.slug, provider.model_name, input_tokens, output_tokens)
        # One line per run; the log context names the request, tenant, agent and run.
        logger.info(
            "run finished: version=%s model=%s items=%s input_tokens=%s output_tokens=%s",
            plan.version.number, provider.model_name, len(items.produced),
            input_tokens, output_tokens,
        )  # fmt: skip
        record.item_id = items.answer_id()
        try:
            failed: Exception | None = await orm_hop(
                _turn_end,
                self.store,
                self.store.turn(),
                plan,
                origin,
                record,
                input_tokens,
                output_tokens,
            )
        except Exception:
            logger.exception("Recording the run of agent %s failed", plan.agent.pk)
            return None
        if failed is not None:
            logger.error(
                "Saving the items of a run of agent %s failed", plan.agent.pk, exc_info=failed
            )
        return failed

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
    _answers: dict[str, None] = field(default_factory=dict)

    def track(self, event: ThreadStreamEvent) -> None:
        if isinstance(event, ThreadItemAddedEvent):
            self.produced[event.item.id] = self._open[event.item.id] = None
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemReplacedEvent):
            self.produced[event.item.id] = None
            self._open.pop(event.item.id, None)
            if event.item.type == "assistant_message":
                self._answers[event.item.id] = None
        elif isinstance(event, ThreadItemRemovedEvent):
            self.produced.pop(event.item_id, None)
            self._open.pop(event.item_id, None)

    def unfinished(self) -> list[str]:
        return list(self._open)

    def answer_id(self) -> str:
        """The run's last answer still in the thread, else its last item, else ""."""
        answers = [item_id for item_id in self._answers if item_id in self.produced]
        return (answers or list(self.produced) or [""])[-1]


@dataclass
class _Paused:
    """A run stopped by tool calls that ask the end user: what is shown and saved."""

    approval_id: str
    widget: WidgetItem
    calls: list[dict[str, Any]]
    state: dict[str, Any]
    end_user_id: str


@dataclass
class _RunRecord:
    """What the second hop writes beside the items: the trace, and a pause if any."""

    trace_id: str
    spans: list[SpanRecord] = field(default_factory=list)
    item_id: str = ""
    paused: _Paused | None = None


@dataclass(frozen=True)
class ResumeSource:
    """A decided approval and the version whose run it resumes."""

    approval: PendingApproval
    version: AgentVersion


@dataclass(frozen=True)
class _Resume:
    source: ResumeSource
    decision: Decision


class _ApprovalPayload(BaseModel):
    approval_id: str
    decision: Decision


def _call_of(item: ToolApprovalItem) -> dict[str, Any]:
    raw = item.raw_item
    arguments = getattr(raw, "arguments", None)
    if arguments is None and isinstance(raw, dict):
        arguments = raw.get("arguments")
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        parsed = arguments
    call_id = getattr(raw, "call_id", None) or (raw.get("call_id") if isinstance(raw, dict) else "")
    return {"call_id": call_id or "", "tool": item.tool_name or "", "arguments": parsed}


async def _resumed_state(
    sdk_agent: SdkAgent[Any], agent_context: AgentContext[RequestContext], resume: _Resume
) -> RunState[Any, Any]:
    """Return the paused run's state with the end user's decision on each of its calls."""
    try:
        state = await RunState.from_json(
            sdk_agent,
            resume.source.approval.state,
            context_override=RunContextWrapper(context=agent_context),
        )
    except Exception as error:
        logger.warning("A paused run could not be resumed: %s", error)
        raise CustomStreamError(
            "This request can no longer be resumed. Please ask again.", allow_retry=False
        ) from error
    for interruption in state.get_interruptions():
        if resume.decision == "approve":
            state.approve(interruption)
        else:
            state.reject(interruption, rejection_message=REJECTION_MESSAGE)
    return state


def _turn_start(
    store: DjangoStore[RequestContext],
    turn: Turn | None,
    context: RequestContext,
    thread: ThreadMetadata,
    title: str | None,
) -> RunPlan:
    """Load the run's plan, title the thread, write what the store holds (sync, one hop).

    A refused run still writes the thread and the user's message (without the title), as a
    client that was told "refused" expects to find them.
    """
    try:
        plan = run_plan_for(context)
    except Exception:
        store.write(turn)
        raise
    if title is not None:
        thread.title = title
        if turn is not None and thread.id in turn.threads:
            store.hold_thread(turn, thread)  # a new thread's INSERT carries the title
    store.write(turn)
    return plan


def _turn_end(
    store: DjangoStore[RequestContext],
    turn: Turn | None,
    plan: RunPlan,
    origin: ItemOrigin,
    record: _RunRecord,
    input_tokens: int,
    output_tokens: int,
) -> Exception | None:
    """Write the run's items with their origin, its trace and pause, then usage (sync, one hop).

    On a new thread this is two statements on PostgreSQL, three elsewhere (and one more for
    a pause):
      INSERT the run's items, stamped with version and model (one multi-row statement);
      WITH (INSERT the run's spans) INSERT ... ON CONFLICT the day's usage: one statement,
        so the trace costs no round trip of its own (`metering.usage_record`); where WITH
        cannot hold an INSERT (SQLite) the spans are one INSERT of their own before it.

    Return (not raise) the exception that kept the items from being written, so that usage
    is recorded whatever happened to them. A trace that cannot be written is only logged.
    """
    failed: Exception | None = None
    try:
        store.write(turn, origin=origin)
    except Exception as error:
        failed = error
    thread_pk = None if turn is None else turn.thread_pks.get(origin.thread_id)
    if failed is None and record.paused is not None:
        try:
            _pause_record(plan, origin.thread_id, thread_pk, record.paused)
        except Exception as error:
            failed = error
    trace = None if failed is not None else _trace_write(plan, origin, thread_pk, record)
    usage_record_or_log(
        tenant_id=plan.tenant.pk,
        agent_id=plan.agent.pk,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        trace=trace,
    )
    return failed


def _trace_write(
    plan: RunPlan, origin: ItemOrigin, thread_pk: int | None, record: _RunRecord
) -> Statement | None:
    """Return the spans' INSERT for the usage statement to carry, or write it now (SQLite).

    Return None when there is nothing left to carry: no spans, spans written, or a trace
    that could not be written (logged).
    """
    try:
        trace = run_spans_insert_sql(
            tenant=plan.tenant, thread_id=origin.thread_id, thread_pk=thread_pk,
            trace_id=record.trace_id, item_id=record.item_id,
            agent_version=plan.version.number, spans=record.spans,
        )  # fmt: skip
        if trace is None or usage_can_carry():
            return trace
        with connection.cursor() as cursor:
            cursor.execute(*trace)
    except Exception:
        logger.exception("Recording the trace of a run of agent %s failed", plan.agent.pk)
    return None


def _pause_record(plan: RunPlan, thread_id: str, thread_pk: int | None, paused: _Paused) -> None:
    if thread_pk is None:
        thread_pk = Thread.objects.for_tenant(plan.tenant).get(public_id=thread_id).pk
    PendingApproval.objects.for_tenant(plan.tenant).create(
        thread_id=thread_pk,
        public_id=paused.approval_id,
        end_user_id=paused.end_user_id,
        agent_version=plan.version.number,
        widget_item_id=paused.widget.id,
        calls=paused.calls,
        state=paused.state,
    )


def _resume_start(
    store: DjangoStore[RequestContext],
    turn: Turn | None,
    context: RequestContext,
    thread: ThreadMetadata,
    payload: _ApprovalPayload,
) -> tuple[RunPlan, ResumeSource]:
    """Write what the store holds, record the decision, plan the paused version (sync).

    One transaction: a run refused now (a suspended tenant, a quota used up) leaves the
    approval pending, to be decided again later.
    """
    store.write(turn)
    thread_pk = None if turn is None else turn.thread_pks.get(thread.id)
    if thread_pk is None:
        thread_pk = Thread.objects.for_tenant(store.tenant).get(public_id=thread.id).pk
    with transaction.atomic():
        approval = pending_approval_decide(
            tenant=store.tenant,
            thread_pk=thread_pk,
            approval_id=payload.approval_id,
            end_user_id=context.end_user_id,
            decision=payload.decision,
            actor=_actor(context),
        )
        version = _paused_version(context, approval)
        return _plan_of(context.tenant, context.agent, version), ResumeSource(approval, version)


def _paused_version(context: RequestContext, approval: PendingApproval) -> AgentVersion:
    """Return the version that paused: the run resumes with the same tools (sync)."""
    if approval.agent_version == DRAFT_VERSION:
        return _draft_version(context.agent)  # the playground's; it must not have changed
    version = (
        AgentVersion.objects.for_tenant(context.tenant)
        .filter(agent_id=context.agent.pk, number=approval.agent_version)
        .first()
    )
    if version is None:
        raise ObjectNotFound("approval", approval.public_id)
    return version


def _actor(context: RequestContext) -> Actor:
    kind = ActorKind.API_KEY if context.api_key_id is not None else ActorKind.SYSTEM
    return Actor(kind=kind, label=context.actor_label, ip=context.ip)


def _audit_record(
    *, tenant: Tenant, agent: Agent, context: RequestContext, details: dict[str, Any]
) -> None:
    audit_event_record(
        tenant=tenant, actor=_actor(context), action="agent.run_failed", target=agent, after=details
    )
