"""ReLU."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("ReLU")
class ReLU(Layer):
    """Rectified linear unit with a ceiling, a threshold and a leak, `keras.layers.ReLU`.

    Keras's formula:

        f(x) = max_value                       for x >= max_value
        f(x) = x                               for threshold < x < max_value
        f(x) = negative_slope * (x - threshold) otherwise

    Args:
        max_value: the ceiling (null: none), >= 0.
        negative_slope: slope below the threshold, >= 0.
        threshold: values at or below it are damped (or zeroed), >= 0.

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((4, 6),)),
        Example({"max_value": 6.0}, ((4, 6),)),
        Example({"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.5}, ((3, 3, 4),)),
        Example({"negative_slope": 0.25}, ((7,),)),
    )

    max_value: float | None = Field(None, ge=0.0, description="Ceiling of the output (null: none).")
    negative_slope: float = Field(0.0, ge=0.0, description="Slope below the threshold.")
    threshold: float = Field(0.0, ge=0.0, description="Values at or below it are damped by negative_slope.")

    def torch_forward(self, module, x):
        import torch
        import torch.nn.functional as F

        slope, ceiling, threshold = self.negative_slope, self.max_value, self.threshold
        if slope != 0 and ceiling is None and threshold == 0:
            return F.leaky_relu(x, slope)
        # the branches below follow keras.activations.relu step by step, so that the rare
        # corners (a ceiling below the threshold) come out as Keras's
        if threshold != 0:
            y = torch.where(x > threshold, x, torch.zeros_like(x))
        else:
            y = F.relu(x)
        if ceiling is not None:
            y = torch.clamp(y, 0.0, ceiling)
        if slope != 0:
            y = y - slope * F.relu(threshold - x)
        return y
