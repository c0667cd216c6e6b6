"""LeakyReLU."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("LeakyReLU")
class LeakyReLU(Layer):
    """`x` for x >= 0, `negative_slope * x` below, `keras.layers.LeakyReLU`.

    Args:
        negative_slope: slope for negative inputs, >= 0 (the layer's default is 0.3, not the
            0.2 of the `leaky_relu` activation).
        alpha: Keras's deprecated name of negative_slope (still accepted by Keras 3).

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((4, 6),)),
        Example({"negative_slope": 0.05}, ((3, 3, 4),)),
        Example({"alpha": 0.5}, ((5,),)),
    )

    negative_slope: float = Field(0.3, ge=0.0, description="Slope for negative inputs.")
    alpha: float | None = Field(None, ge=0.0, description="Deprecated Keras name of negative_slope.")

    @model_validator(mode="before")
    @classmethod
    def _alpha(cls, data: Any) -> Any:
        # Keras 3 takes `alpha` in place of negative_slope (with a deprecation warning)
        if isinstance(data, dict) and data.get("alpha") is not None:
            if data.get("negative_slope") is not None:
                raise ValueError("give negative_slope or its deprecated name alpha, not both")
            data = {**data, "negative_slope": data["alpha"], "alpha": None}
        return data

    def keras_config(self, data_format):
        return {"negative_slope": self.negative_slope}

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        return F.leaky_relu(x, self.negative_slope)
