"""RandomRotation."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import (
    BaseRandomImageLayer, Factor, FillMode, affine_transform, factor_bounds,
)
from archspec.layers.registry import register


@register("RandomRotation")
class RandomRotation(BaseRandomImageLayer):
    """Rotates each image by a random angle about its centre while training, the identity at
    inference, `keras.layers.RandomRotation`.

    Args:
        factor: a fraction of a full turn: f rotates by an angle drawn in [-f, f] x 360
            degrees, [lower, upper] in [lower, upper] x 360 degrees (positive: counter-clockwise).
        fill_mode: how points outside the image are filled: "reflect" (dcba|abcd|dcba),
            "wrap" (abcd|abcd|abcd), "constant" (fill_value) or "nearest" (the edge).
        interpolation: "bilinear" or "nearest".
        seed: seed of the random draws.
        fill_value: the value of "constant" filling.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    examples = (Example({"factor": 0.2}, ((5, 6, 3),)),
                Example({"factor": [-0.1, 0.3], "fill_mode": "constant", "fill_value": 0.5,
                         "interpolation": "nearest", "seed": 3}, ((5, 5, 2),)))

    factor: Factor = Field(..., description="Fraction of a full turn: f for [-f, f], or [lower, upper].")
    fill_mode: FillMode = Field("reflect", description="reflect, wrap, constant or nearest.")
    interpolation: Literal["bilinear", "nearest"] = Field("bilinear", description="bilinear or nearest.")
    fill_value: float = Field(0.0, description="The value of constant filling.")

    @field_validator("factor")
    @classmethod
    def _check(cls, value):
        factor_bounds(value, -1.0, 1.0)
        return value

    def augment(self, module, x):
        import torch

        n, _, height, width = x.shape
        lower, upper = factor_bounds(self.factor, -1.0, 1.0)
        angle = self.uniform(module, (n,), lower * 360.0, upper * 360.0, x) * (math.pi / 180.0)
        cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
        a0, a1, b0, b1 = torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle)
        matrix = torch.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1], dim=1)
        return affine_transform(x, matrix, self.interpolation, self.fill_mode, self.fill_value)
