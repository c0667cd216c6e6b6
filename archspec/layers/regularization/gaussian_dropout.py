"""GaussianDropout."""

from __future__ import annotations

import math

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("GaussianDropout")
class GaussianDropout(Layer):
    """Multiplies its inputs by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate))
    while training, the identity at inference, `keras.layers.GaussianDropout`.

    Input and output shape: the same, any rank.
    """

    stochastic = True
    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"rate": 0.2}, ((6,),)), Example({"rate": 0.5, "seed": 2}, ((4, 4, 3),)))

    rate: float = Field(..., ge=0.0, lt=1.0, description="Drop probability, in [0, 1); sets the noise's spread.")
    seed: int | None = Field(None, description="Seed of Keras's random draws.")

    def torch_forward(self, module, x):
        import torch

        if not module.training or self.rate == 0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + torch.randn_like(x) * stddev)
