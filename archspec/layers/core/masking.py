"""Masking."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError
from archspec.layers.registry import register


@register("Masking")
class Masking(Layer):
    """Masks the steps whose features all equal `mask_value`, `keras.layers.Masking`: those steps
    become zeros and the output carries a mask (any feature != mask_value) for the layers after it.

    Input shape: (batch, steps..., features). Output shape: the same.
    """

    torch_layout_default = "spec"
    mask_policy = "produce"
    examples = (
        Example({}, ((None, 3),), data_formats=("channels_last",)),
        Example({"mask_value": 0.5}, ((6, 4),), data_formats=("channels_last",)),
    )

    mask_value: float = Field(0.0, description="A step whose features all equal this value is masked.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        if len(input_shapes[0]) < 1:
            raise ShapeError("expects inputs of rank 2 or more")
        return input_shapes[0]

    def torch_forward(self, module, x):
        keep = (x != self.mask_value).any(dim=-1, keepdim=True)
        return x * keep.to(x.dtype)

    def torch_mask(self, module, inputs, masks):
        return (inputs[0] != self.mask_value).any(dim=-1)
