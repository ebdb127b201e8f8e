"""A tenant's provider base URL gets the HTTP tools' address policy at every connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from hosted_agents.http_fetch import CheckedTransport
from hosted_agents.providers import ProviderConfig, provider_model_build
from tests.support.openai_stub import OpenAIStub


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


def tenant_config(base_url: str) -> ProviderConfig:
    return ProviderConfig(
        kind="openai_compatible",
        model="local-model",
        base_url=base_url,
        api_key="sk-tenant-key-0123456789",
        credential_id=7,
    )


async def ask(config: ProviderConfig) -> Any:
    provider = provider_model_build(config, max_retries=0)
    assert provider.client is not None
    try:
        return await provider.client.responses.create(model=config.model, input="Hi")
    finally:
        await provider.aclose()


async def test_a_tenant_key_is_not_sent_to_loopback_without_the_operator_setting(
    openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = False
    openai_stub.add("Hello.")

    with pytest.raises(openai.APIConnectionError):
        await ask(tenant_config(openai_stub.base_url))

    assert openai_stub.requests == []


async def test_a_local_model_server_is_reached_when_the_operator_allows_private_targets(
    openai_stub: OpenAIStub, settings: Any
) -> None:
    settings.CHATKIT_ALLOW_PRIVATE_NETWORK = True
    openai_stub.add("Hello.")

    response = await ask(tenant_config(openai_stub.base_url))

    assert response.output_text == "Hello."
    assert openai_stub.last_request.api_key == "sk-tenant-key-0123456789"


async def test_a_name_resolving_to_a_metadata_address_is_refused_before_connecting() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    async with httpx.AsyncClient(
        transport=CheckedTransport(allow_private=False, resolver=dns)
    ) as c:
        with pytest.raises(httpx.ConnectError, match="forbidden_address"):
            await c.get("http://models.example.test/v1/models")


async def test_the_checked_transport_connects_to_the_checked_address_and_keeps_the_host_name(
    openai_stub: OpenAIStub,
) -> None:
    async def dns(host: str, port: int) -> list[str]:
        assert host == "models.example.test"
        return ["127.0.0.1"]

    openai_stub.add("Hello.")
    transport = CheckedTransport(allow_private=True, resolver=dns)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(
            f"http://models.example.test:{openai_stub.port}/v1/responses",
            json={"model": "m", "input": "Hi"},
        )

    assert response.status_code == 200
    assert openai_stub.last_request.headers["host"] == f"models.example.test:{openai_stub.port}"
