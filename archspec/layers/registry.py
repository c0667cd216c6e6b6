"""The layer catalogue: Keras class name (or alias) -> layer config class, loaded on first use.

The names are read from the catalogue's sources (each module's `@register(...)` line) without
importing them, so that a spec using five types imports five modules, not the hundred the
catalogue holds; `archspec summary` stays fast however large the catalogue grows.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from archspec.errors import suggest
from archspec.layers.base import Layer

L = TypeVar("L", bound=type[Layer])

_REGISTER_LINE = re.compile(r"^@register\(([^)]*)\)", re.MULTILINE)
_loaded: dict[str, type[Layer]] = {}


@functools.cache
def _index() -> tuple[dict[str, str], dict[str, str]]:
    """(name or alias -> canonical name, canonical name -> module), from the sources."""
    root = Path(__file__).parent
    aliases: dict[str, str] = {}
    modules: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for match in _REGISTER_LINE.finditer(path.read_text(encoding="utf-8")):
            names = ast.literal_eval(f"[{match.group(1)}]")
            module = ".".join(["archspec", "layers", *path.relative_to(root).with_suffix("").parts])
            modules[names[0]] = module
            for name in names:
                aliases[name] = names[0]
    return aliases, modules


def register(type_name: str, *aliases: str):
    """Class decorator: make a layer type available in specs under its Keras name.

    Write it on its own line, with literal names (`@register("Conv2D", "Convolution2D")`): the
    catalogue finds types by reading that line.
    """

    def decorate(cls: L) -> L:
        if type_name in _loaded and _loaded[type_name] is not cls:
            raise ValueError(f"layer type {type_name} is registered twice")
        cls.type_name = type_name
        cls.aliases = aliases
        _loaded[type_name] = cls
        return cls

    return decorate


def canonical_type(name: str) -> str | None:
    try:
        return _index()[0].get(name)
    except TypeError:  # an unhashable value where a type name belongs
        return None


def _load(canonical: str) -> type[Layer]:
    if canonical not in _loaded:
        importlib.import_module(_index()[1][canonical])
    return _loaded[canonical]


def layer_class(name: str) -> type[Layer]:
    """The class for a type name or alias; KeyError with a suggestion when unknown."""
    canonical = canonical_type(name)
    if canonical is None:
        raise KeyError(f"unknown layer type '{name}'{suggest(name, _index()[0])}")
    return _load(canonical)


def list_layers() -> list[str]:
    """Canonical type names of every registered layer, sorted (nothing is imported)."""
    return sorted(_index()[1])


class _Catalogue(Mapping[str, type[Layer]]):
    """Canonical name -> class; a class is imported when it is first looked up."""

    def __getitem__(self, name: str) -> type[Layer]:
        if name not in _index()[1]:
            raise KeyError(name)
        return _load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list_layers())

    def __len__(self) -> int:
        return len(_index()[1])


LAYERS: Mapping[str, type[Layer]] = _Catalogue()


def load_all() -> dict[str, type[Layer]]:
    """Import every layer module (the JSON Schema and the contract test need them all)."""
    return {name: _load(name) for name in list_layers()}
