"""GaussianNoise."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("GaussianNoise")
class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` while training, the identity
    at inference, `keras.layers.GaussianNoise`.

    Input and output shape: the same, any rank.
    """

    stochastic = True
    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"stddev": 0.1}, ((6,),)), Example({"stddev": 0.5, "seed": 4}, ((4, 4, 3),)))

    stddev: float = Field(..., ge=0.0, le=1.0, description="Standard deviation of the noise, in [0, 1].")
    seed: int | None = Field(None, description="Seed of Keras's random draws.")

    def torch_forward(self, module, x):
        import torch

        if not module.training or self.stddev == 0:
            return x
        return x + torch.randn_like(x) * self.stddev
