"""ELU."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("ELU")
class ELU(Layer):
    """Exponential linear unit, `keras.layers.ELU`: `x` for x > 0, `alpha * (exp(x) - 1)` otherwise.

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({}, ((4, 6),)), Example({"alpha": 0.5}, ((3, 3, 4),)))

    alpha: float = Field(1.0, description="Scale of the negative part.")

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        return F.elu(x, self.alpha)
