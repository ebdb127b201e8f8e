"""Log record formatting: one JSON object per line in production, plain text in development.

Why the standard library's logging with python-json-logger's formatter rather than
structlog: Django, Celery, daphne and openai-agents all log through the standard library
already, so one formatter on one handler turns every line into JSON, ours and theirs,
with no second logging pipeline to configure.
"""

from __future__ import annotations

from typing import Any

from pythonjsonlogger.json import JsonFormatter

from operations.context import FIELDS

__all__ = ["PlatformJsonFormatter", "logging_config"]


class PlatformJsonFormatter(JsonFormatter):
    """Name the fields plainly and leave out the ids this record does not know."""

    def add_fields(
        self, log_data: dict[str, Any], record: Any, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("log_context", None)  # the text format's summary of the ids below
        for name in FIELDS:
            if not log_data.get(name):
                log_data.pop(name, None)


def logging_config(*, log_format: str, level: str, loggers: dict[str, Any]) -> dict[str, Any]:
    """Return Django's LOGGING: one console handler, JSON or text, with the context's ids."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "operations.context.LogContextFilter"}},
        "formatters": {
            "json": {
                "()": "operations.logs.PlatformJsonFormatter",
                "format": "%(levelname)s %(name)s %(message)s "
                + " ".join(f"%({name})s" for name in FIELDS),
                "rename_fields": {"levelname": "level", "name": "logger"},
                # An ISO 8601 time in UTC, as the first field.
                "timestamp": "time",
            },
            "text": {"format": "%(asctime)s %(levelname)s %(name)s%(log_context)s: %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": loggers,
    }
