"""What the wrappers share: a layer config nested under a key (`layer:`, `backward_layer:`).

A nested mapping is validated into its registered class like a top-level entry, so its
mistakes are reported at the nested key (`layer.units`, `layer.type`). The wrapped layer
keeps its own name (default: Keras's auto name for its type, without a counter); its weights
are the wrapper's under that name, as Keras's variable paths have them (`td/dense/kernel`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, SerializationInfo, ValidationError, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from archspec.errors import kind_of, shorten
from archspec.layers.base import Layer, Weight, snake_case
from archspec.layers.registry import layer_class

WRAPPED_LAYER_SCHEMA = "archspec: a wrapped layer"

# the keys a wrapped layer cannot have: it takes its wrapper's input, and freezing is the wrapper's
_NOT_NESTED = {
    "inputs": "a wrapped layer takes its wrapper's input: remove 'inputs' here",
    "trainable": "set 'trainable' on the wrapper, not on the layer it wraps",
}


def problem(loc: tuple, message: str, value: Any) -> ValidationError:
    """A ValidationError located at `loc` (inside a field validator pydantic prefixes the field)."""
    # "value_error": the message says what was wrong; the generic "(got ...)" would repeat it
    return ValidationError.from_exception_data("nested layer", [
        InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
    ])


def nested_layer(value: Any) -> Any:
    if isinstance(value, Layer):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping with the wrapped layer's type and parameters "
                         f"({{type: Dense, units: 4}}), got {kind_of(value)} {shorten(value)}")
    type_name = value.get("type")
    if not isinstance(type_name, str):
        got = "" if type_name is None else f", got {kind_of(type_name)} {shorten(type_name)}"
        raise problem(("type",), f"expected a layer type name{got}", type_name)
    try:
        cls = layer_class(type_name)
    except KeyError as exc:
        raise problem(("type",), exc.args[0], type_name) from None
    for key, why in _NOT_NESTED.items():
        if key in value:
            raise problem((key,), why, value[key])
    data = {k: v for k, v in value.items() if k != "type"}
    data.setdefault("name", snake_case(cls.type_name))
    return cls.model_validate(data)


def _dump(layer: Layer, info: SerializationInfo) -> dict[str, Any]:
    dumped = layer.model_dump(mode=info.mode, exclude={"inputs", "trainable"}, exclude_defaults=info.exclude_defaults,
                              by_alias=True)
    return {"type": layer.type_name, "name": layer.name, **dumped}


NestedLayer = Annotated[
    Layer,
    BeforeValidator(nested_layer),
    PlainSerializer(_dump),
    # standing alone: an object with a type; archspec's spec schema puts the union of every
    # registered type's entry where it finds this comment (schema.py)
    WithJsonSchema({"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}},
                    "$comment": WRAPPED_LAYER_SCHEMA}),
]
"""A layer config written as a mapping with its `type`, e.g. `{type: LSTM, units: 8}`."""


def prefixed(name: str, weights: list[Weight]) -> list[Weight]:
    """A wrapped layer's weights as the wrapper's: Keras's paths `<inner name>/<variable>`."""
    return [Weight(f"{name}/{w.name}", w.shape, w.initializer, w.trainable) for w in weights]
