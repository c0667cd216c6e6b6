"""Rescaling."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("Rescaling")
class Rescaling(Layer):
    """Computes `inputs * scale + offset`, `keras.layers.Rescaling` (scale: 0.00392156862745098 for 1/255).

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"scale": 0.5, "offset": -1.0}, ((4, 4, 3),)),)

    scale: float = Field(..., description="Multiplier.")
    offset: float = Field(0.0, description="Added after scaling.")

    def torch_forward(self, module, x):
        return x * self.scale + self.offset
