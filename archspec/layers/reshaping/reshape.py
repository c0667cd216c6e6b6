"""Reshape."""

from __future__ import annotations

import math

from pydantic import Field, field_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, fmt_shape
from archspec.layers.registry import register


@register("Reshape")
class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1), `keras.layers.Reshape`.

    Works on the spec's own layout: the values keep their memory order.
    """

    torch_layout_default = "spec"
    examples = (Example({"target_shape": [4, 6]}, ((2, 3, 4),)), Example({"target_shape": [-1, 2]}, ((6,),)))

    target_shape: list[int] = Field(..., min_length=1, description="Per-sample shape; one entry may be -1.")

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

    def keras_config(self, data_format):
        return {"target_shape": tuple(self.target_shape)}

    def torch_setup(self, module, input_shapes, data_format):
        module.target = self.output_shape(input_shapes, data_format)

    def torch_forward(self, module, x):
        return x.reshape(x.shape[0], *module.target)
