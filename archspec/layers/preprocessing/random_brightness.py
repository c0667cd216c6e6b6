"""RandomBrightness."""

from __future__ import annotations

from pydantic import Field, field_validator

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import BaseRandomImageLayer, Factor, factor_bounds
from archspec.layers.registry import register


@register("RandomBrightness")
class RandomBrightness(BaseRandomImageLayer):
    """Adds a random offset to each image while training, the identity at inference,
    `keras.layers.RandomBrightness`.

    The offset, one per image, is drawn in [lower, upper] x (high - low) of value_range, and
    the result is clipped to value_range.

    Args:
        factor: in [-1, 1]: f draws in [-f, f], [lower, upper] in [lower, upper] (-1: black,
            1: white).
        value_range: [low, high], the range of the input values (sorted, like Keras).
        seed: seed of the random draws.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    torch_layout_default = "any"
    examples = (Example({"factor": 0.2}, ((4, 5, 3),)),
                Example({"factor": [-0.5, 0.1], "value_range": [0, 1], "seed": 4}, ((3, 4, 2),)))

    factor: Factor = Field(..., description="In [-1, 1]: f for [-f, f], or [lower, upper], times the value range.")
    value_range: tuple[float, float] = Field((0, 255), description="[low, high], the range of the input values.")

    @field_validator("factor")
    @classmethod
    def _check(cls, value):
        factor_bounds(value, -1.0, 1.0)
        return value

    def augment(self, module, x):
        low, high = sorted(self.value_range)
        lower, upper = factor_bounds(self.factor, -1.0, 1.0)
        delta = self.uniform(module, (x.shape[0],) + (1,) * (x.dim() - 1), lower, upper, x) * (high - low)
        return (x + delta).clamp(low, high)
