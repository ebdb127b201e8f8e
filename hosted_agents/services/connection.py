"""Testing a provider credential: one authenticated request to its model list."""

from __future__ import annotations

from dataclasses import dataclass

import openai
from django.conf import settings

from hosted_agents.http_fetch import FetchError, url_target_check
from tenants.encryption import decrypt
from tenants.models import ProviderCredential, Tenant
from tenants.selectors import provider_credential_get

__all__ = ["ConnectionCheck", "provider_credential_test"]

TEST_TIMEOUT_SECONDS = 10.0
MAX_MODELS = 500


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    reason: str  # "ok", "key_refused", "unreachable", "forbidden_address", "http_<status>"
    message: str
    # The ids of the models the provider listed (sorted, at most MAX_MODELS), when ok.
    models: tuple[str, ...] = ()


def provider_credential_test(*, tenant: Tenant, credential_id: int) -> ConnectionCheck:
    """List the provider's models with the credential's key and say how that went.

    The address is held to the HTTP tools' policy first: the key only goes where it may.
    """
    credential = provider_credential_get(tenant=tenant, credential_id=credential_id)
    base_url = credential.base_url or None
    if base_url is not None:
        try:
            url_target_check(base_url, allow_private=settings.CHATKIT_ALLOW_PRIVATE_NETWORK)
        except FetchError as error:
            return ConnectionCheck(False, error.reason, str(error))
    return _list_models(credential, base_url)


def _list_models(credential: ProviderCredential, base_url: str | None) -> ConnectionCheck:
    client = openai.OpenAI(
        api_key=decrypt(credential.secret), base_url=base_url,
        max_retries=0, timeout=TEST_TIMEOUT_SECONDS,
    )  # fmt: skip
    try:
        listed = client.models.list()
        models = tuple(sorted(model.id for model in listed.data)[:MAX_MODELS])
    except openai.AuthenticationError:
        return ConnectionCheck(False, "key_refused", "the provider refused the key")
    except openai.APIStatusError as error:
        return ConnectionCheck(
            False, f"http_{error.status_code}",
            f"the provider answered {error.status_code} to a model list request",
        )  # fmt: skip
    except openai.APIConnectionError:
        return ConnectionCheck(False, "unreachable", "the provider could not be reached")
    finally:
        client.close()
    return ConnectionCheck(True, "ok", "the provider accepted the key", models)
