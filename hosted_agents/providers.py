"""The model a run talks to, from the published version and the tenant's credential.

    version model "demo"                      the offline demo model
    a provider credential (the tenant's)      its key; OpenAI's endpoint, or its base URL,
                                              through the Responses or Chat Completions API
    no credential, OPENAI_API_KEY set         the platform's key (operator setting)
    no credential, no platform key            the offline demo model

Every run gets its own `AsyncOpenAI` client, closed after the run: no global default client,
so one tenant's key or base URL can never serve another tenant's request. A tenant's base URL
is held to the HTTP tools' address policy: checked at save (provider credential services) and
at every connection (the client's transport is `http_fetch.CheckedTransport`), so the tenant's
key is never sent to loopback, private or metadata addresses unless the operator allows
private targets (`CHATKIT_ALLOW_PRIVATE_NETWORK`). The operator's own `OPENAI_BASE_URL` is
trusted as configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import httpx
from agents import Model, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel
from django.conf import settings
from openai import AsyncOpenAI
from openai.types.shared import Reasoning

from hosted_agents import http_fetch
from hosted_agents.demo_model import DEMO_MODEL_NAME, DemoModel
from hosted_agents.exceptions import AgentMisconfigured
from tenants.encryption import decrypt
from tenants.models import ProviderCredential, Tenant

__all__ = [
    "ProviderConfig",
    "ProviderModel",
    "model_settings_build",
    "provider_config_resolve",
    "provider_model_build",
]

# The values of ProviderCredential.Kind and ProviderCredential.Api.
CredentialKind: TypeAlias = Literal["openai", "openai_compatible"]
ProviderApi: TypeAlias = Literal["responses", "chat_completions"]

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 1


@dataclass(frozen=True)
class ProviderConfig:
    """Where a run's model requests go. `repr` never shows the key."""

    kind: Literal["demo"] | CredentialKind
    model: str
    api: ProviderApi = "responses"
    base_url: str | None = None
    api_key: str = field(default="", repr=False)
    credential_id: int | None = None  # None: demo model or the platform's key


@dataclass
class ProviderModel:
    model: Model
    # What thread items record as their model: the demo model is recorded as "demo".
    model_name: str
    client: AsyncOpenAI | None = None

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.close()


def provider_config_resolve(*, tenant: Tenant, config: dict[str, Any]) -> ProviderConfig:
    """Return where a published version's model requests go; sync (reads the credential)."""
    model = str(config.get("model") or DEMO_MODEL_NAME)
    credential_id = config.get("provider_credential_id")
    if model == DEMO_MODEL_NAME:
        return ProviderConfig(kind="demo", model=DEMO_MODEL_NAME)
    if credential_id is not None:
        credential = ProviderCredential.objects.for_tenant(tenant).filter(pk=credential_id).first()
        if credential is None:
            raise AgentMisconfigured("the agent's provider credential no longer exists")
        # The credential services accept only these kinds and APIs (the model's choices).
        return ProviderConfig(
            kind=cast(CredentialKind, credential.kind),
            model=model,
            api=cast(ProviderApi, credential.api),
            base_url=credential.base_url or None,
            api_key=decrypt(credential.secret),
            credential_id=credential.pk,
        )
    if settings.OPENAI_API_KEY:
        return ProviderConfig(
            kind="openai",
            model=model,
            base_url=settings.OPENAI_BASE_URL or None,
            api_key=settings.OPENAI_API_KEY,
        )
    return ProviderConfig(kind="demo", model=DEMO_MODEL_NAME)


def provider_model_build(
    config: ProviderConfig,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> ProviderModel:
    """Return the run's model with a client of its own (close it with `aclose`)."""
    if config.kind == "demo":
        return ProviderModel(model=DemoModel(), model_name=DEMO_MODEL_NAME)
    client = AsyncOpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        max_retries=max_retries,
        # One bound for connect, each read and the whole request; openai retries at most
        # `max_retries` times on top (timeouts, 429, 5xx).
        timeout=timeout_seconds,
        http_client=cast(Any, _http_client(config, timeout_seconds)),
    )
    model: Model
    if config.api == "chat_completions":
        model = OpenAIChatCompletionsModel(model=config.model, openai_client=client)
    else:
        model = OpenAIResponsesModel(model=config.model, openai_client=client)
    return ProviderModel(model=model, model_name=config.model, client=client)


def _http_client(config: ProviderConfig, timeout_seconds: float) -> httpx.AsyncClient | None:
    """Return a client that connects only to checked addresses, for a tenant's credential."""
    if config.credential_id is None:
        return None  # the operator's key and base URL: openai's own client
    transport = http_fetch.CheckedTransport(allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK)
    # No proxies from the environment: the checked address is the one connected to. openai
    # takes an `httpx` client as well as its own `httpx2` one (its types name only the latter).
    return httpx.AsyncClient(
        transport=transport, timeout=timeout_seconds, follow_redirects=True, trust_env=False
    )


def model_settings_build(values: dict[str, Any]) -> ModelSettings:
    """Return openai-agents settings from an agent's validated `model_settings`."""
    effort = values.get("reasoning_effort")
    return ModelSettings(
        temperature=values.get("temperature"),
        top_p=values.get("top_p"),
        max_tokens=values.get("max_output_tokens"),
        tool_choice=values.get("tool_choice"),
        parallel_tool_calls=values.get("parallel_tool_calls"),
        reasoning=Reasoning(effort=effort) if effort else None,
        # Chat Completions streams report token usage only when asked; metering needs it.
        include_usage=True,
    )
