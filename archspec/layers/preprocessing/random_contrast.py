"""RandomContrast."""

from __future__ import annotations

from pydantic import Field, field_validator

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import BaseRandomImageLayer, Factor, factor_bounds
from archspec.layers.registry import register


@register("RandomContrast")
class RandomContrast(BaseRandomImageLayer):
    """Scales each image's contrast by a random factor while training, the identity at
    inference, `keras.layers.RandomContrast`.

    Each channel becomes (x - mean) * c + mean, mean over the image's pixels, with one c per
    image, then is clipped to value_range.

    Args:
        factor: in [0, 1]. As Keras 3 computes it, a pair [lower, upper] draws c in
            [1 - lower, 1 + upper], but a number f draws c in [1, 1 + f] (its lower bound is
            max(-f, 0)).
        value_range: [low, high] the outputs are clipped to.
        seed: seed of the random draws.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    examples = (Example({"factor": 0.5}, ((4, 5, 3),)),
                Example({"factor": [0.2, 0.4], "value_range": [-1, 1], "seed": 2}, ((3, 4, 2),)))

    factor: Factor = Field(
        ..., description="In [0, 1]: f draws c in [1, 1+f] (Keras 3), [lower, upper] in [1-lower, 1+upper].")
    value_range: tuple[float, float] = Field((0, 255), description="[low, high] the outputs are clipped to.")

    @field_validator("factor")
    @classmethod
    def _check(cls, value):
        factor_bounds(value, 0.0, 1.0)
        return value

    def augment(self, module, x):
        lower, upper = factor_bounds(self.factor, 0.0, 1.0)
        contrast = self.uniform(module, (x.shape[0], 1, 1, 1), 1.0 - lower, 1.0 + upper, x)
        mean = x.mean(dim=(2, 3), keepdim=True)
        return ((x - mean) * contrast + mean).clamp(self.value_range[0], self.value_range[1])
