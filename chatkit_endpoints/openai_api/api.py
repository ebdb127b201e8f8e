"""The ninja API of /v1/chatkit/: one instance, its authentication and its error shape."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI

from chatkit_endpoints.openai_api import sessions, threads
from chatkit_endpoints.openai_api.auth import ChatKeyAuth
from chatkit_endpoints.openai_api.errors import install_error_handlers, json_method_not_allowed

__all__ = ["api"]


class OpenAIShapedAPI(NinjaAPI):
    """A NinjaAPI whose every answer, the 405 ninja writes itself included, is JSON."""

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = json_method_not_allowed(pattern.callback)
        return urls


# The official client sends `OpenAI-Beta: chatkit_beta=v1` on every request; it is
# accepted, and nothing depends on it.
api = OpenAIShapedAPI(
    title="ChatKit sessions and threads",
    version="v1",
    description="The sessions and threads API of OpenAI's hosted ChatKit, on this platform.",
    urls_namespace="openai_chatkit",
    auth=ChatKeyAuth(),
)
install_error_handlers(api)
api.add_router("", sessions.router)
api.add_router("", threads.router)
