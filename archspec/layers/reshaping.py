"""Flatten, Reshape, ZeroPadding2D, Rescaling."""

from __future__ import annotations

import math
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field, field_validator

from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, fmt_shape, image, require_rank, spatial
from archspec.layers.registry import register


@register("Flatten")
class Flatten(Layer):
    """Flattens each sample, in the memory order of the spec's data_format."""

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        return (math.prod(input_shapes[0]),)


@register("Reshape")
class Reshape(Layer):
    """Reshapes each sample to `target_shape`; one entry may be -1."""

    target_shape: list[int] = Field(..., min_length=1)

    @field_validator("target_shape")
    @classmethod
    def _check(cls, value: list[int]) -> list[int]:
        if value.count(-1) > 1:
            raise ValueError("at most one entry of target_shape may be -1")
        if any(v == 0 or v < -1 for v in value):
            raise ValueError("target_shape entries must be positive, or -1 for one inferred entry")
        return value

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        size = math.prod(input_shapes[0])
        known = math.prod(v for v in self.target_shape if v != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ShapeError(f"cannot reshape {fmt_shape(input_shapes[0])} ({size} values) to {self.target_shape}")
            return tuple(size // known if v == -1 else v for v in self.target_shape)
        if known != size:
            raise ShapeError(
                f"cannot reshape {fmt_shape(input_shapes[0])} ({size} values) to {self.target_shape} ({known} values)"
            )
        return tuple(self.target_shape)


def _padding_pairs(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an int, [h, w] or [[top, bottom], [left, right]]")
    if isinstance(value, int):
        return ((value, value), (value, value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return ((value[0], value[0]), (value[1], value[1]))
    return value


PaddingPairs = Annotated[
    tuple[
        tuple[Annotated[int, Field(ge=0, strict=True)], Annotated[int, Field(ge=0, strict=True)]],
        tuple[Annotated[int, Field(ge=0, strict=True)], Annotated[int, Field(ge=0, strict=True)]],
    ],
    BeforeValidator(_padding_pairs, json_schema_input_type=Union[int, list[int], list[list[int]]]),
]


@register("ZeroPadding2D")
class ZeroPadding2D(Layer):
    """Pads height and width with zeros: an int, [h, w] or [[top, bottom], [left, right]]."""

    padding: PaddingPairs = ((1, 1), (1, 1))

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, 3, "an image (batch, height, width, channels)")
        (h, w), channels = spatial(shape, data_format)
        (top, bottom), (left, right) = self.padding
        return image((h + top + bottom, w + left + right), channels, data_format)


@register("Rescaling")
class Rescaling(Layer):
    """Computes `inputs * scale + offset`, e.g. scale: 0.00392156862745098 for 1/255."""

    scale: float
    offset: float = 0.0
