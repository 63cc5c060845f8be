"""Base classes for protocol models.

Every map on the wire uses camelCase keys (the editor is JavaScript); Python code
uses snake_case attributes. Params travel as the editor channel's *argument array*,
so a params model lists its arguments in order and is built from that array.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A map on the wire: camelCase keys, unknown keys ignored (additive versioning)."""

    # defer_build: a model's validator is built when first used, not when the protocol is imported (the
    # catalog holds every channel's models; a session uses a few of them).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PositionalParams(BaseModel):
    """The argument array of a method, one field per argument, in order.

    Trailing arguments with defaults may be omitted by the caller. Field names are
    documentation only; they never appear on the wire.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=False, defer_build=True)

    positional: ClassVar[bool] = True

    @classmethod
    def argument_names(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def from_wire(cls, params: list[Any]) -> Self:
        """Validate an argument array; raises pydantic.ValidationError on bad input."""
        names = cls.argument_names()
        if len(params) > len(names):
            # Reported through the same error list shape pydantic uses.
            from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

            error = PydanticCustomError(
                "too_many_arguments",
                "expected at most {max} arguments, got {count}",
                {"max": len(names), "count": len(params)},
            )
            detail: InitErrorDetails = {"type": error, "loc": (len(names),), "input": params}
            raise ValidationError.from_exception_data(cls.__name__, [detail])
        return cls.model_validate(dict(zip(names, params, strict=False)))


class NoParams(PositionalParams):
    """A method that takes an empty argument array."""
