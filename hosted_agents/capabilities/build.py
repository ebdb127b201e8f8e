"""Turn the capabilities frozen in a published version into openai-agents parts, for one run.

The runtime calls `capabilities_build` once per run and passes what it returns to the
openai-agents `Agent` (extra tools, guardrails) and to `Runner.run_streamed` (the run
config, which redacts PII from the model's input when a guardrail says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents import Model, OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Tool
from agents.result import RunResultStreaming
from channels.db import database_sync_to_async

from chatkit_core.agents import AgentContext
from hosted_agents.approvals import approval_asked
from hosted_agents.capabilities.guardrails import GuardrailStop, guardrail_stop, guardrails_build
from hosted_agents.capabilities.handoffs import HandoffAnswers
from hosted_agents.capabilities.hosted_tools import HostedToolTasks, hosted_tools_build
from hosted_agents.capabilities.mcp import McpServerSpec, mcp_function_tool
from hosted_agents.capabilities.selectors import mcp_server_headers
from hosted_agents.exceptions import AgentMisconfigured, InvalidInput
from hosted_agents.providers import ProviderModel

__all__ = ["Capabilities", "capabilities_build"]


@dataclass
class Capabilities:
    tools: list[Tool] = field(default_factory=list)
    # Further keyword arguments of the openai-agents Agent (guardrails, handoffs).
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    run_config: RunConfig | None = None
    guardrails: dict[str, Any] = field(default_factory=dict)
    # The frozen handoffs: the runtime builds their agents (hosted_agents/runtime.py).
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    provider: ProviderModel | None = None
    answers: HandoffAnswers = field(default_factory=HandoffAnswers)
    hosted_tools: bool = False

    def bridged(self, result: RunResultStreaming, context: AgentContext[Any]) -> Any:
        """Return what the bridge should read of `result` (hosted searches become tasks)."""
        return HostedToolTasks(result, context) if self.hosted_tools else result

    def model_for(self, name: str) -> Model | None:
        """Return model `name` on the run's provider (None: the run's own model, demo)."""
        make = _model_for(self.provider) if self.provider is not None else None
        return make(name) if make is not None else None

    def stop_for(self, error: BaseException) -> GuardrailStop | None:
        """Return the stop when `error` is a tripped guardrail of this run, else None."""
        return guardrail_stop(error, self.guardrails)


def capabilities_build(
    config: dict[str, Any],
    *,
    tenant_id: int,
    allow_private: bool,
    provider: ProviderModel,
) -> Capabilities:
    """Return the run's parts for `config["capabilities"]` of a version (none if absent).

    Raise `AgentMisconfigured` for a check the run's provider cannot serve.
    """
    frozen = config.get("capabilities") or {}
    built = Capabilities(
        guardrails=frozen.get("guardrails", {}),
        handoffs=frozen.get("handoffs", []),
        provider=provider,
    )

    async def load_headers(server_id: int) -> dict[str, str]:
        headers: dict[str, str] = await database_sync_to_async(mcp_server_headers)(
            tenant=tenant_id, server_id=server_id
        )
        return headers

    for entry in frozen.get("mcp_servers", []):
        spec = McpServerSpec.from_config(entry)
        for tool in entry["tools"]:
            function = mcp_function_tool(
                spec, tool, load_headers=load_headers, allow_private=allow_private
            )
            # The server's approval list: such a call waits for the end user's Approve /
            # Reject, as code and HTTP tools marked "ask" do (hosted_agents/approvals.py).
            if approval_asked(entry, tool["name"]):
                function.needs_approval = True
            built.tools.append(function)
    hosted = frozen.get("hosted_tools", [])
    if hosted:
        if provider.client is None or isinstance(provider.model, OpenAIChatCompletionsModel):
            raise AgentMisconfigured("OpenAI's hosted tools need a provider on the Responses API")
        built.tools += hosted_tools_build(hosted)
        built.hosted_tools = True
    if built.guardrails:
        try:
            kwargs, redact = guardrails_build(
                built.guardrails, client=provider.client, model_for=_model_for(provider)
            )
        except InvalidInput as error:
            raise AgentMisconfigured(error.message) from None
        built.agent_kwargs |= kwargs
        if redact is not None:
            built.run_config = RunConfig(call_model_input_filter=redact)
    return built


def _model_for(provider: ProviderModel) -> Any:
    """Return a function giving another model of the run's provider, or None (demo model)."""
    client = provider.client
    if client is None:
        return None
    kind = (
        OpenAIChatCompletionsModel
        if isinstance(provider.model, OpenAIChatCompletionsModel)
        else OpenAIResponsesModel
    )

    def model_for(name: str) -> Model:
        return kind(model=name, openai_client=client)

    return model_for
