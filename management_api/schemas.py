"""What every operation's schemas share: input refuses unknown fields and NUL characters.

PostgreSQL text cannot hold NUL; refusing it at the edge makes it a 400 on both databases.
Path ids are bounded to what the columns hold, so a huge number is a 404, not an error.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from ninja import Schema
from ninja.params.functions import Path
from pydantic import ConfigDict, model_validator

__all__ = ["MAX_ID", "MAX_NUMBER", "In", "PatchIn", "has_nul", "id_path", "number_path"]

MAX_ID = 2**63 - 1  # BigAutoField
MAX_NUMBER = 2**31 - 1  # PositiveIntegerField


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class In(Schema):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class PatchIn(In):
    """An update: only the fields sent change, and none may be sent as null but `nullable`."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null(self) -> Self:
        for name in sorted(self.model_fields_set - self.nullable):
            if getattr(self, name) is None:
                raise ValueError(f"'{name}' may be left out but not null")
        return self


def id_path() -> Any:
    return Path(..., ge=1, le=MAX_ID)


def number_path() -> Any:
    return Path(..., ge=1, le=MAX_NUMBER)
