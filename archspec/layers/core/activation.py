"""Activation."""

from __future__ import annotations

from pydantic import Field

from archspec.activations import Activation as ActivationName
from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("Activation")
class Activation(Layer):
    """Applies an activation function by name, `keras.layers.Activation` (any name of keras.activations).

    Input and output shape: the same, any rank. Axis activations (softmax, log_softmax, ...)
    act on the last axis.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = tuple(
        Example({"activation": name}, ((4, 6),))
        for name in ("relu", "gelu", "softmax", "hard_silu", "mish", "log_softmax", "softplus", "elu")
    )

    activation: ActivationName = Field(..., description="Any name of keras.activations.")
