"""ASGI entry point: Channels routes ChatKit endpoints to consumers, the rest to Django.

WebSockets (the console's live view) are for signed-in members: Django's session cookie is
read by `AuthMiddlewareStack`, and the Origin must be one of ALLOWED_HOSTS.
"""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatkit_platform.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chatkit_platform.affinity import cpu_affinity_pin  # noqa: E402
from chatkit_platform.daphne_requests import daphne_body_parsing_skip  # noqa: E402
from chatkit_platform.routing import http_routes, websocket_routes  # noqa: E402
from operations.asgi import RequestContextMiddleware  # noqa: E402

# Channels routes to ASGI apps through re_path, but django-stubs types its target as a view.
django_route = re_path(r"", django_asgi_app)  # type: ignore[arg-type]
routed = ProtocolTypeRouter(
    {
        "http": URLRouter([*http_routes, django_route]),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)
# Outermost: every request gets its id (logs, X-Request-ID) and is counted (/metrics).
application = RequestContextMiddleware(routed)
if settings.OTEL_ENABLED:
    from operations.tracing import tracing_wrap_asgi

    application = tracing_wrap_asgi(application)

# Under daphne, Twisted would parse each POST body for form fields nobody reads (about 7% of
# a list request's CPU) and answer a malformed multipart body itself with a bare 400.
daphne_body_parsing_skip()

# What is loaded by now (Django, the apps, openai-agents, the routes) lives as long as the
# process. Frozen, it is left out of the collector's full passes, which otherwise scanned it
# all and stalled every request in flight for up to 100 ms each time (p99 at one connection
# 60 ms against a p50 of 2.3 ms; bench/endpoint_load.md). Garbage is collected first so that
# none of it is kept for good.
gc.collect()
gc.freeze()

# Opt-in (WEB_CPU_AFFINITY): the loop and the ORM's thread on one CPU. The threads that exist
# now are moved; those started later (the ORM's among them) inherit it.
cpu_affinity_pin(settings.WEB_CPU_AFFINITY)
