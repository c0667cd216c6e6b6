"""RandomFlip."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.layers.base import Example
from archspec.layers.preprocessing.base_image_preprocessing import BaseRandomImageLayer
from archspec.layers.registry import register


@register("RandomFlip")
class RandomFlip(BaseRandomImageLayer):
    """Flips each image with probability 1/2 while training, the identity at inference,
    `keras.layers.RandomFlip`.

    Args:
        mode: "horizontal" (left-right), "vertical" (top-bottom) or "horizontal_and_vertical":
            like Keras, one draw per image decides both flips (a half turn, or nothing).
        seed: seed of the random draws.

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    examples = (Example({}, ((4, 5, 3),)), Example({"mode": "horizontal", "seed": 7}, ((4, 5, 2),)),
                Example({"mode": "vertical"}, ((3, 3, 1),)))

    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = Field(
        "horizontal_and_vertical", description="horizontal, vertical or horizontal_and_vertical.")

    def augment(self, module, x):
        import torch

        flips = self.uniform(module, (x.shape[0], 1, 1, 1), 0.0, 1.0, x) <= 0.5
        if self.mode != "vertical":
            x = torch.where(flips, x.flip(-1), x)
        if self.mode != "horizontal":
            x = torch.where(flips, x.flip(-2), x)
        return x
