"""SpatialDropout1D, SpatialDropout2D, SpatialDropout3D: Dropout of whole feature maps."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, require_rank
from archspec.layers.registry import register


class BaseSpatialDropout(Layer):
    """Zeroes whole channels (one draw per sample and channel) while training, scaling the rest
    by 1/(1-rate); the identity at inference. Subclasses set `rank`.

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        seed: the Keras seed (PyTorch draws from its own generator).
    """

    mask_policy = "pass"  # Keras: supports_masking (a Dropout)

    rank: ClassVar[int] = 2
    stochastic = True

    rate: float = Field(..., ge=0.0, lt=1.0, description="Fraction of the channels to drop while training.")
    seed: int | None = Field(None, description="Seed of Keras's random draws.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        require_rank(input_shapes[0], self.rank + 1, f"a {self.rank}-D input with channels")
        return input_shapes[0]

    def _channels_first(self, module) -> bool:
        return module.internal_channels_first or module.data_format == "channels_first"

    def torch_setup(self, module, input_shapes, data_format):
        module.channel_dim = 1 if self._channels_first(module) else -1

    def torch_forward(self, module, x):
        if not module.training or self.rate == 0:
            return x
        shape = [1] * x.dim()
        shape[0] = x.shape[0]
        shape[module.channel_dim] = x.shape[module.channel_dim]
        keep = (x.new_empty(shape).uniform_() >= self.rate).to(x.dtype)
        return x * keep / (1 - self.rate)


@register("SpatialDropout1D")
class SpatialDropout1D(BaseSpatialDropout):
    """Drops whole channels of a sequence (steps, channels) while training, `keras.layers.SpatialDropout1D`.

    Keras's 1-D version takes no data_format: it always shares one draw along axis 1 and
    drops along the last axis, so in a channels_first spec it drops whole steps, as Keras does.

    Input and output shape: (batch, steps, channels), unchanged.
    """

    rank = 1
    examples = (Example({"rate": 0.3}, ((5, 3),)), Example({"rate": 0.5, "seed": 7}, ((8, 4),)))

    def _channels_first(self, module) -> bool:
        return module.internal_channels_first


@register("SpatialDropout2D")
class SpatialDropout2D(BaseSpatialDropout):
    """Drops whole feature maps of an image while training, `keras.layers.SpatialDropout2D`.

    Input and output shape: (batch, height, width, channels) for channels_last,
    (batch, channels, height, width) otherwise, unchanged.
    """

    rank = 2
    examples = (Example({"rate": 0.3}, ((4, 5, 3),)), Example({"rate": 0.5, "seed": 3}, ((6, 6, 2),)))


@register("SpatialDropout3D")
class SpatialDropout3D(BaseSpatialDropout):
    """Drops whole feature volumes while training, `keras.layers.SpatialDropout3D`.

    Input and output shape: (batch, depth, height, width, channels) for channels_last,
    (batch, channels, depth, height, width) otherwise, unchanged.
    """

    rank = 3
    examples = (Example({"rate": 0.3}, ((2, 3, 4, 3),)), Example({"rate": 0.2, "seed": 1}, ((3, 3, 3, 2),)))
