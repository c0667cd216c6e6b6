"""Dropout."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("Dropout")
class Dropout(Layer):
    """Zeroes a fraction `rate` of its inputs while training (scaling the rest by 1/(1-rate)),
    the identity at inference, `keras.layers.Dropout`.

    Args:
        rate: fraction of the inputs to drop, in [0, 1).
        noise_shape: the shape of the keep/drop mask, batch axis included; 1 (or null) on an
            axis shares one draw along it.
        seed: the Keras seed (PyTorch draws from its own generator).

    Input and output shape: the same, any rank.
    """

    stochastic = True
    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"rate": 0.3}, ((6,),)), Example({"rate": 0.5, "noise_shape": [None, 1, 4]}, ((3, 4),)))

    rate: float = Field(..., ge=0.0, lt=1.0, description="Fraction of the inputs to drop while training.")
    noise_shape: list[int | None] | None = Field(None, description="Shape of the mask (batch axis included).")
    seed: int | None = Field(None, description="Seed of Keras's random draws.")

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if not module.training or self.rate == 0:
            return x
        if self.noise_shape is None:
            return F.dropout(x, self.rate, True)
        return x * keep_mask(module, x, self.rate, self.noise_shape) / (1 - self.rate)


def keep_mask(module, x, rate: float, noise_shape: list[int | None] | None):
    """1 where an input is kept, 0 where dropped; `noise_shape` (batch axis included, in the spec's
    layout; None: the input's size) shares one draw along its axes of size 1."""
    if noise_shape is None:
        shape = list(x.shape)
    else:
        shape = [x.shape[i] if n is None else n for i, n in enumerate(noise_shape)]
        if module.internal_channels_first:  # the mask is written in the spec's (channels_last) layout
            shape = [shape[0], shape[-1], *shape[1:-1]]
    return (x.new_empty(shape).uniform_() >= rate).to(x.dtype)
