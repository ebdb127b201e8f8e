"""Icon names accepted wherever the protocol takes an `IconName` (protocol §8.9)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

__all__ = ["IconName", "LucideIconName", "VendorIconName"]

VendorIconName = Annotated[str, StringConstraints(pattern=r"^vendor:")]
"""An integrator-provided icon, written `vendor:<name>`."""

LucideIconName = Annotated[str, StringConstraints(pattern=r"^lucide:")]
"""A Lucide icon, written `lucide:<name>`."""

IconName = (
    Literal[
        "agent",
        "analytics",
        "atom",
        "batch",
        "bolt",
        "book-open",
        "book-closed",
        "book-clock",
        "bug",
        "calendar",
        "chart",
        "check",
        "check-circle",
        "check-circle-filled",
        "chevron-left",
        "chevron-right",
        "circle-question",
        "clock",
        "compass",
        "confetti",
        "cube",
        "desktop",
        "document",
        "dot",
        "dots-horizontal",
        "dots-vertical",
        "empty-circle",
        "external-link",
        "globe",
        "keys",
        "lab",
        "images",
        "info",
        "lifesaver",
        "lightbulb",
        "mail",
        "map-pin",
        "maps",
        "mobile",
        "name",
        "notebook",
        "notebook-pencil",
        "page-blank",
        "phone",
        "play",
        "plus",
        "profile",
        "profile-card",
        "reload",
        "star",
        "star-filled",
        "search",
        "sparkle",
        "sparkle-double",
        "square-code",
        "square-image",
        "square-text",
        "suitcase",
        "settings-slider",
        "user",
        "wreath",
        "write",
        "write-alt",
        "write-alt2",
    ]
    | VendorIconName
    | LucideIconName
)
"""A built-in icon name, or any `lucide:`/`vendor:` prefixed name."""
