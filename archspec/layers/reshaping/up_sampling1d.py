"""UpSampling1D."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_up_sampling import BaseUpSampling


@register("UpSampling1D")
class UpSampling1D(BaseUpSampling):
    """Repeats each step of a sequence `size` times, `keras.layers.UpSampling1D`.

    Keras's UpSampling1D has no data_format: it always repeats along axis 1, the first after
    the batch axis, so in a channels_first spec, whose sequences are (channels, steps), it
    repeats channels.

    Args:
        size: the factor.

    Input shape: (batch, steps, features). Output shape: (batch, steps * size, features).
    """

    rank = 1
    spatial_dim = 1  # axis 1 of the spec's own layout
    torch_layout_default = "spec"
    examples = (Example({}, ((4, 3),)), Example({"size": 3}, ((5, 2),)))

    size: int = Field(2, ge=1, strict=True, description="Upsampling factor.")

    def output_shape(self, input_shapes, data_format):
        return super().output_shape(input_shapes, "channels_last")  # axis 1 whatever the data_format
