"""The contract every layer type fulfils: its config, its shape rule, its weights, its cost.

A layer type is one pydantic model registered under its Keras 3 class name. Everything
that needs no framework (validation, shape inference, parameter and MAC counts, the
JSON Schema) is derived from that one class; backends only add the computation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Shape = tuple[int, ...]  # per-sample shape, batch axis excluded
DataFormat = Literal["channels_last", "channels_first"]


class ShapeError(ValueError):
    """A layer cannot accept the shapes it is given. The graph adds the layer's name."""


@dataclass(frozen=True)
class Weight:
    """One weight tensor of a layer, in Keras's layout (the neutral layout)."""

    name: str  # kernel, bias, gamma, beta, moving_mean, moving_variance
    shape: Shape
    initializer: str
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)


# ---------------------------------------------------------------- value types


def _int_pair(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer or a pair of integers, not a boolean")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return (value[0], value[0])
    return value


IntPair = Annotated[
    tuple[Annotated[int, Field(strict=True, ge=1)], Annotated[int, Field(strict=True, ge=1)]],
    BeforeValidator(_int_pair, json_schema_input_type=Union[int, Annotated[list[int], Field(min_length=1, max_length=2)]]),
]
"""An int or a pair of ints, like Keras's kernel_size, strides and pool_size."""


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Padding = Annotated[Literal["valid", "same"], BeforeValidator(_lower, json_schema_input_type=Literal["valid", "same", "VALID", "SAME"])]

# "/" only between parts (block scopes, resolved specs); no "." (torch module paths)
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(/[A-Za-z0-9_][A-Za-z0-9_\-]*)*$"
LayerName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]


def snake_case(class_name: str) -> str:
    """Keras's auto-name prefix: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---------------------------------------------------------------- the base class


class Layer(BaseModel):
    """Base of every layer config. Subclasses add Keras's parameters as fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # set by @register
    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # how many inputs the layer takes
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    name: LayerName | None = Field(None, description="Unique layer name; generated the Keras way when missing.")
    inputs: str | list[str] | None = Field(
        None, description="Input name(s): model inputs or layers. Default: the previous entry."
    )
    trainable: bool = Field(True, description="false freezes the layer's weights.")

    # --- the rules a layer type implements ---

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        """Output shape for one sample (batch axis excluded)."""
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        """The layer's weights, in Keras's order and layout."""
        return []

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        """Multiply-accumulates for one sample (convolutions and dense products only)."""
        return 0

    @property
    def activation_name(self) -> str:
        return getattr(self, "activation", "linear")

    def config(self) -> dict[str, Any]:
        """The layer's own parameters, without the graph wiring."""
        return self.model_dump(exclude={"name", "inputs", "trainable"})


def spatial(shape: Shape, data_format: DataFormat) -> tuple[Shape, int]:
    """(spatial dims, channels) of an image-like per-sample shape."""
    if data_format == "channels_first":
        return shape[1:], shape[0]
    return shape[:-1], shape[-1]


def image(spatial_dims: Shape, channels: int, data_format: DataFormat) -> Shape:
    return (channels, *spatial_dims) if data_format == "channels_first" else (*spatial_dims, channels)


def keras_axis(axis: int, rank: int) -> int:
    """A Keras axis (counting the batch axis, negative from the end) as a per-sample index."""
    if axis == 0 or axis < -rank or axis > rank:
        raise ShapeError(f"axis {axis} is out of range for inputs of rank {rank + 1} (batch axis included)")
    return axis - 1 if axis > 0 else rank + axis


def window_output(size: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length of a sliding window, TensorFlow's rule for 'valid' and 'same'."""
    if padding == "same":
        return -(-size // stride)
    effective = dilation * (window - 1) + 1
    return (size - effective) // stride + 1 if size >= effective else 0


def same_padding(size: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after): the odd pixel goes after."""
    effective = dilation * (window - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def require_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeError(f"expects {what} (rank {rank + 1} with the batch axis), got {fmt_shape(shape)}")


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"
