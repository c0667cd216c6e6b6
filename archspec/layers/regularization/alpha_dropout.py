"""AlphaDropout."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register
from archspec.layers.regularization.dropout import keep_mask

# SELU's constants, as keras.layers.AlphaDropout writes them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@register("AlphaDropout")
class AlphaDropout(Layer):
    """Dropout for self-normalizing (SELU) networks, `keras.layers.AlphaDropout`: while training,
    dropped inputs are set to SELU's negative saturation value and the result is scaled and shifted
    to keep the mean and variance; the identity at inference.

    Args:
        rate: fraction of the inputs to drop, in [0, 1).
        noise_shape: the shape of the keep/drop mask, batch axis included; 1 (or null) on an
            axis shares one draw along it.
        seed: the Keras seed (PyTorch draws from its own generator).

    Input and output shape: the same, any rank.
    """

    stochastic = True
    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"rate": 0.2}, ((6,),)), Example({"rate": 0.4, "noise_shape": [None, 1, 4]}, ((3, 4),)))

    rate: float = Field(..., ge=0.0, lt=1.0, description="Fraction of the inputs to drop while training.")
    noise_shape: list[int | None] | None = Field(None, description="Shape of the mask (batch axis included).")
    seed: int | None = Field(None, description="Seed of Keras's random draws.")

    def torch_forward(self, module, x):
        if not module.training or self.rate == 0:
            return x
        keep = keep_mask(module, x, self.rate, self.noise_shape)
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (x * keep + alpha_p * (1 - keep)) + b
