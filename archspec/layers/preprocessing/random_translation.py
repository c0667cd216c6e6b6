"""RandomTranslation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import (
    BaseRandomImageLayer, Factor, FillMode, affine_transform, shift_bounds,
)
from archspec.layers.registry import register


@register("RandomTranslation")
class RandomTranslation(BaseRandomImageLayer):
    """Shifts each image by a random offset while training, the identity at inference,
    `keras.layers.RandomTranslation`.

    Args:
        height_factor: a fraction of the height: f shifts by [-f, f] x height, [lower, upper]
            by [lower, upper] x height (values in [-1, 1]; positive: down).
        width_factor: the same for the width (positive: right).
        fill_mode: "reflect", "wrap", "constant" (fill_value) or "nearest".
        interpolation: "bilinear" or "nearest".
        seed: seed of the random draws.
        fill_value: the value of "constant" filling.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    examples = (Example({"height_factor": 0.2, "width_factor": 0.3}, ((6, 5, 3),)),
                Example({"height_factor": [-0.2, 0.0], "width_factor": [0.1, 0.5], "fill_mode": "wrap",
                         "interpolation": "nearest", "seed": 11}, ((4, 6, 2),)))

    height_factor: Factor = Field(..., description="Vertical shift, a fraction of the height: f or [lower, upper].")
    width_factor: Factor = Field(..., description="Horizontal shift, a fraction of the width: f or [lower, upper].")
    fill_mode: FillMode = Field("reflect", description="reflect, wrap, constant or nearest.")
    interpolation: Literal["bilinear", "nearest"] = Field("bilinear", description="bilinear or nearest.")
    fill_value: float = Field(0.0, description="The value of constant filling.")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _check(cls, value, info):
        shift_bounds(value, -1.0, 1.0, info.field_name)
        return value

    def augment(self, module, x):
        import torch

        n, _, height, width = x.shape
        lower, upper = shift_bounds(self.height_factor, -1.0, 1.0, "height_factor")
        dy = self.uniform(module, (n,), lower, upper, x) * height
        lower, upper = shift_bounds(self.width_factor, -1.0, 1.0, "width_factor")
        dx = self.uniform(module, (n,), lower, upper, x) * width
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        matrix = torch.stack([one, zero, -dx, zero, one, -dy], dim=1)
        return affine_transform(x, matrix, self.interpolation, self.fill_mode, self.fill_value)
