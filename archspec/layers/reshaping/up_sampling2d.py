"""UpSampling2D."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_up_sampling import BaseUpSampling


@register("UpSampling2D")
class UpSampling2D(BaseUpSampling):
    """Enlarges an image `size` times along height and width, `keras.layers.UpSampling2D`.

    Args:
        size: the factor, one int or [height, width].
        interpolation: "nearest" repeats each pixel; "bilinear" interpolates the way
            TensorFlow's `tf.image.resize` does (half-pixel centres, no antialiasing), which is
            PyTorch's `interpolate(mode="bilinear", align_corners=False)`. Keras's other
            methods (bicubic, lanczos3, lanczos5, area) have no PyTorch equivalent and are refused.

    Input shape: (batch, height, width, channels) for channels_last.
    Output shape: (batch, height * size[0], width * size[1], channels).
    """

    rank = 2
    examples = (
        Example({}, ((3, 4, 2),)),
        Example({"size": [2, 3]}, ((3, 4, 2),)),
        Example({"size": [3, 2], "interpolation": "bilinear"}, ((3, 4, 2),)),
        Example({"size": 2, "interpolation": "bilinear"}, ((5, 1, 2),)),
    )

    interpolation: Literal["nearest", "bilinear"] = Field(
        "nearest", description="nearest (repeat) or bilinear (TensorFlow's resize, half-pixel centres).")

    def keras_config(self, data_format):
        return {"size": self.size, "interpolation": self.interpolation}

    def torch_forward(self, module, x):
        if self.interpolation == "nearest":
            return super().torch_forward(module, x)
        import torch.nn.functional as F

        size = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
