"""Cropping1D."""

from __future__ import annotations

from typing import Any

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_cropping import BaseCropping, cropping_field


@register("Cropping1D")
class Cropping1D(BaseCropping):
    """Removes steps from the start and end of a sequence, `keras.layers.Cropping1D`.

    Keras's Cropping1D has no data_format: it always crops axis 1, the first after the batch
    axis, so in a channels_first spec, whose sequences are (channels, steps), it crops channels.

    Args:
        cropping: an int (both ends) or [start, end].

    Input shape: (batch, axis_to_crop, features). Output shape: (batch, cropped_axis, features).
    """

    rank = 1
    torch_layout_default = "spec"
    examples = (Example({}, ((6, 5),)), Example({"cropping": [2, 0]}, ((6, 5),)),
                Example({"cropping": [0, 3]}, ((6, 5),)))

    cropping: Any = cropping_field((1, 1), "An int (both ends) or [start, end].")

    def output_shape(self, input_shapes, data_format):
        return super().output_shape(input_shapes, "channels_last")  # axis 1 whatever the data_format

    def torch_setup(self, module, input_shapes, data_format):
        (start, end), = self.cropping
        module.crop = (slice(None), slice(start, input_shapes[0][0] - end))
