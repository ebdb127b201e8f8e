"""HTTP routes served by Channels consumers rather than Django views."""

from __future__ import annotations

from typing import Any

http_routes: list[Any] = []
