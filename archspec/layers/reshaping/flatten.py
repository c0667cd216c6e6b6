"""Flatten."""

from __future__ import annotations

import math

from archspec.layers.base import DataFormat, Example, Layer, Shape, require_fixed
from archspec.layers.registry import register


@register("Flatten")
class Flatten(Layer):
    """Flattens each sample, `keras.layers.Flatten`, in the memory order of the spec's data_format
    (so a channels_first spec flattens (C, H, W) and a channels_last one (H, W, C)).

    Output shape: (batch, product of the input's per-sample axes).
    """

    torch_layout_default = "spec"
    examples = (Example({}, ((3, 4, 2),)), Example({}, ((5,),)))

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        require_fixed(input_shapes[0], "every axis (it flattens them into one)")
        return (math.prod(input_shapes[0]),)

    def keras_config(self, data_format):
        return {"data_format": "channels_last"}  # the tensor's own order, whatever the spec's format

    def torch_forward(self, module, x):
        return x.flatten(1)
