"""Building configuration dataclasses from keyword options, naming any unknown option in the error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def check_options(cls: type, options: Mapping[str, Any], what: str) -> None:
    """Raise ``TypeError`` naming the keys of ``options`` that are not fields of the dataclass ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"Unknown {what} option(s) {unknown}; known options: {sorted(known)}")


def from_options(cls: type[T], options: Mapping[str, Any], what: str) -> T:
    """``cls(**options)`` after :func:`check_options`."""
    check_options(cls, options, what)
    return cls(**options)
