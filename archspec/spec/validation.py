"""Turn pydantic's ValidationError into located, readable problems."""

from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from archspec.errors import Problem, shorten, suggest
from archspec.spec.yaml_source import PathKey, Source, problem_at


def data_path(data: Any, loc: Iterable[Any]) -> tuple:
    """The prefix of a pydantic `loc` that exists in `data` (drops union tags and the like)."""
    path = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def validation_problems(
    exc: ValidationError,
    data: Any,
    source: Source,
    base: PathKey,
    model: type[BaseModel],
    *,
    context: str = "",
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple] = set()
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        path = data_path(data, loc)
        key = ".".join(str(p) for p in path)
        if error["type"] == "extra_forbidden":
            field = str(loc[-1])
            owner = _typed_owner(data, loc[:-1]) or _submodel(model, loc[:-1])
            hint = suggest(field, owner.model_fields) if owner else ""
            message = f"unknown key '{field}'{hint}"
            is_key = True
        else:
            msg = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = f"missing required key '{loc[-1]}'"
                is_key = False
            elif loc and loc[-1] == "[key]":  # a mapping key of the wrong type: point at the key itself
                message = f"{key}: {msg} (got {shorten(error['input'])})" if key else msg
                is_key = True
            else:
                got = f" (got {shorten(error['input'])})" if path and error["type"] != "value_error" else ""
                if error["type"] == "literal_error" and isinstance(error["input"], str):
                    choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
                    got += suggest(error["input"], choices)
                message = f"{key}: {msg}{got}" if key else msg
                is_key = False
        if (key, message) in seen:  # unions repeat one mistake once per member
            continue
        seen.add((key, message))
        problems.append(problem_at(source, base + path, context + message, key=is_key))
    return problems


def _typed_owner(data: Any, loc: tuple) -> type[BaseModel] | None:
    """The layer class of a nested mapping with a `type` (a wrapper's `layer:`), for suggestions."""
    from archspec.layers.registry import layer_class

    path = data_path(data, loc)
    if not path or len(path) != len(loc):
        return None
    for part in path:
        data = data[part]
    try:
        return layer_class(data["type"]) if isinstance(data, dict) and isinstance(data.get("type"), str) else None
    except KeyError:
        return None


def _submodel(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at `loc` (best effort, for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
