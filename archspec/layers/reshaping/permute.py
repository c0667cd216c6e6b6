"""Permute."""

from __future__ import annotations

from pydantic import Field, field_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, fmt_shape
from archspec.layers.registry import register


@register("Permute")
class Permute(Layer):
    """Reorders the axes of each sample, `keras.layers.Permute`.

    Works on the spec's own layout (like Reshape): in a channels_first spec, axis 1 is channels.

    Args:
        dims: the new order of the per-sample axes, numbered from 1 (the batch axis is 0 and
            stays first); [2, 1] swaps the two axes of a sequence.

    Input shape: any, of rank len(dims) + 1 with the batch axis.
    Output shape: the input's sizes in the order of dims.
    """

    torch_layout_default = "spec"
    examples = (
        Example({"dims": [2, 1]}, ((4, 3),)),
        Example({"dims": [3, 1, 2]}, ((2, 4, 3),)),
        Example({"dims": [2, 3, 1]}, ((2, 4, 3),)),
    )

    dims: list[int] = Field(..., min_length=1, description="New order of the per-sample axes, numbered from 1.")

    @field_validator("dims")
    @classmethod
    def _check(cls, value: list[int]) -> list[int]:
        if sorted(value) != list(range(1, len(value) + 1)):
            raise ValueError(f"dims must be a permutation of 1..{len(value)} (axis 0 is the batch), got {value}")
        return value

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        if len(shape) != len(self.dims):
            raise ShapeError(f"dims {self.dims} permute {len(self.dims)} axes, the input {fmt_shape(shape)} "
                             f"has {len(shape)}")
        return tuple(shape[d - 1] for d in self.dims)

    def keras_config(self, data_format):
        return {"dims": tuple(self.dims)}

    def torch_forward(self, module, x):
        return x.permute(0, *self.dims)
