"""The layer catalogue: Keras class name (or alias) -> layer config class."""

from __future__ import annotations

from typing import TypeVar

from archspec.errors import suggest
from archspec.layers.base import Layer

LAYERS: dict[str, type[Layer]] = {}
_ALIASES: dict[str, str] = {}

L = TypeVar("L", bound=type[Layer])


def register(type_name: str, *aliases: str):
    """Class decorator: make a layer type available in specs under its Keras name."""

    def decorate(cls: L) -> L:
        if type_name in LAYERS:
            raise ValueError(f"layer type {type_name} is registered twice")
        cls.type_name = type_name
        cls.aliases = aliases
        LAYERS[type_name] = cls
        for alias in (type_name, *aliases):
            _ALIASES[alias] = type_name
        return cls

    return decorate


def canonical_type(name: str) -> str | None:
    return _ALIASES.get(name)


def layer_class(name: str) -> type[Layer]:
    """The class for a type name; KeyError with a suggestion when unknown."""
    canonical = _ALIASES.get(name)
    if canonical is None:
        raise KeyError(f"unknown layer type '{name}'{suggest(name, _ALIASES)}")
    return LAYERS[canonical]


def list_layers() -> list[str]:
    """Canonical type names of every registered layer, sorted."""
    return sorted(LAYERS)
