"""The ASGI routes of the ChatKit endpoints; mounted once in chatkit_platform/routing.py."""

from __future__ import annotations

from typing import Any

from django.urls import re_path

from chatkit_endpoints.consumers import ChatKitConsumer, ThreadStreamConsumer
from chatkit_endpoints.live import LiveViewConsumer
from chatkit_endpoints.uploads import AttachmentPreviewConsumer, AttachmentUploadConsumer

__all__ = ["http_routes", "websocket_routes"]

_AGENT = r"^t/(?P<tenant>[-\w]+)/agents/(?P<agent>[-\w]+)/"

http_routes: list[Any] = [
    re_path(_AGENT + r"chatkit$", ChatKitConsumer.as_asgi()),
    re_path(
        _AGENT + r"threads/(?P<thread>[^/]{1,200})/stream$",
        ThreadStreamConsumer.as_asgi(),
    ),
    re_path(
        _AGENT + r"attachments/(?P<attachment>[^/]{1,100})/upload$",
        AttachmentUploadConsumer.as_asgi(),
    ),
    re_path(
        _AGENT + r"attachments/(?P<attachment>[^/]{1,100})/preview$",
        AttachmentPreviewConsumer.as_asgi(),
    ),
]

websocket_routes: list[Any] = [
    re_path(
        r"^t/(?P<tenant>[-\w]+)/live/threads/(?P<thread>[^/]{1,200})$", LiveViewConsumer.as_asgi()
    ),
]
