"""Timestamps: every protocol timestamp chatkit_core keeps is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def aware_utc(value: datetime) -> datetime:
    """Return `value` if it is timezone-aware, else read it as local time and convert to UTC."""
    if value.tzinfo is not None:
        return value
    try:
        return value.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        # At the very ends of the datetime range the local offset cannot be applied.
        return value.replace(tzinfo=UTC)
