"""Widget actions: the config a widget declares and the action a client sends back.

`ActionConfig` is what a widget carries (`Button.onClickAction`, ...); its keys are camelCase
on the wire and its three defaults are always emitted (protocol §8.2, §8.4). `Action` is the
`{type, payload}` pair that arrives in `threads.custom_action` (protocol §2.7); subclass it
with a single `Literal` type to get a typed `create()` helper.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, Field

__all__ = [
    "DEFAULT_HANDLER",
    "DEFAULT_LOADING_BEHAVIOR",
    "Action",
    "ActionConfig",
    "Handler",
    "LoadingBehavior",
]

Handler = Literal["client", "server"]
"""Who handles an action: the server (a protocol request) or the page's `onAction` callback."""

LoadingBehavior = Literal["auto", "none", "self", "container"]
"""What the client shows while an action runs."""

DEFAULT_HANDLER: Handler = "server"
DEFAULT_LOADING_BEHAVIOR: LoadingBehavior = "auto"

TType = TypeVar("TType", bound=str)
TPayload = TypeVar("TPayload")


class ActionConfig(BaseModel):
    """An action bound to a widget control; serialized with camelCase keys."""

    type: str
    payload: Any = None
    handler: Handler = DEFAULT_HANDLER
    loadingBehavior: LoadingBehavior = DEFAULT_LOADING_BEHAVIOR
    streaming: bool = True


class Action(BaseModel, Generic[TType, TPayload]):
    """An action as sent by the client: a `type` and an optional `payload`."""

    type: TType = Field(frozen=True)
    payload: TPayload = None  # type: ignore[assignment]  # payload-less actions omit it

    @classmethod
    def create(
        cls,
        payload: TPayload,
        handler: Handler = DEFAULT_HANDLER,
        loading_behavior: LoadingBehavior = DEFAULT_LOADING_BEHAVIOR,
        streaming: bool = True,
    ) -> ActionConfig:
        """Return an `ActionConfig` for this action class and `payload`.

        The class must pin `type` to one string literal, e.g.
        `class Archive(Action[Literal["archive"], int])`.
        """
        annotation = cls.model_fields["type"].annotation
        args = get_args(annotation) if get_origin(annotation) is Literal else ()
        if len(args) != 1 or not isinstance(args[0], str):
            raise TypeError(
                f"{cls.__name__}.create() needs `type` pinned to one string Literal; "
                "call it on a subclass such as Action[Literal['name'], Payload]."
            )
        return ActionConfig(
            type=args[0],
            payload=payload,
            handler=handler,
            loadingBehavior=loading_behavior,
            streaming=streaming,
        )
