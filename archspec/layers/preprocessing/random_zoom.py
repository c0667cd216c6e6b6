"""RandomZoom."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import (
    BaseRandomImageLayer, Factor, FillMode, affine_transform, shift_bounds,
)
from archspec.layers.registry import register


@register("RandomZoom")
class RandomZoom(BaseRandomImageLayer):
    """Zooms each image in or out about its centre by a random amount while training, the
    identity at inference, `keras.layers.RandomZoom`.

    Args:
        height_factor: f draws a vertical zoom in [1 - f, 1 + f], [lower, upper] in
            [1 + lower, 1 + upper] (values in (-1, 1]; above 1 zooms out, below 1 zooms in, as
            Keras's transform samples the input at (zoom x coordinates)).
        width_factor: the same for the horizontal zoom; none: the vertical zoom, keeping the
            aspect ratio.
        fill_mode: "reflect", "wrap", "constant" (fill_value) or "nearest".
        interpolation: "bilinear" or "nearest".
        seed: seed of the random draws.
        fill_value: the value of "constant" filling.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    examples = (Example({"height_factor": 0.3}, ((6, 5, 3),)),
                Example({"height_factor": [-0.3, -0.1], "width_factor": [0.1, 0.4], "fill_mode": "constant",
                         "interpolation": "nearest", "seed": 5}, ((6, 6, 2),)))

    height_factor: Factor = Field(..., description="Vertical zoom: f for [1-f, 1+f], or [lower, upper] added to 1.")
    width_factor: Factor | None = Field(None, description="Horizontal zoom, like height_factor; none: the same zoom.")
    fill_mode: FillMode = Field("reflect", description="reflect, wrap, constant or nearest.")
    interpolation: Literal["bilinear", "nearest"] = Field("bilinear", description="bilinear or nearest.")
    fill_value: float = Field(0.0, description="The value of constant filling.")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _check(cls, value, info):
        if value is not None:
            shift_bounds(value, -1.0, 1.0, info.field_name, low_inclusive=False)
        return value

    def augment(self, module, x):
        import torch

        n, _, height, width = x.shape
        lower, upper = shift_bounds(self.height_factor, -1.0, 1.0, "height_factor", low_inclusive=False)
        zoom_y = self.uniform(module, (n,), 1.0 + lower, 1.0 + upper, x)
        zoom_x = zoom_y
        if self.width_factor is not None:
            lower, upper = shift_bounds(self.width_factor, -1.0, 1.0, "width_factor", low_inclusive=False)
            zoom_x = self.uniform(module, (n,), 1.0 + lower, 1.0 + upper, x)
        zero = torch.zeros_like(zoom_x)
        matrix = torch.stack([zoom_x, zero, (width - 1) / 2.0 * (1.0 - zoom_x),
                              zero, zoom_y, (height - 1) / 2.0 * (1.0 - zoom_y)], dim=1)
        return affine_transform(x, matrix, self.interpolation, self.fill_mode, self.fill_value)
