"""RepeatVector."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, require_rank
from archspec.layers.registry import register


@register("RepeatVector")
class RepeatVector(Layer):
    """Repeats a vector `n` times into a sequence, `keras.layers.RepeatVector`.

    Args:
        n: number of repetitions.

    Input shape: (batch, features). Output shape: (batch, n, features).
    """

    torch_layout_default = "spec"
    examples = (Example({"n": 3}, ((5,),)), Example({"n": 1}, ((2,),)))

    n: int = Field(..., ge=1, strict=True, description="Number of repetitions.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, 1, "a vector (batch, features)")
        return (self.n, shape[0])

    def torch_forward(self, module, x):
        return x.unsqueeze(1).expand(-1, self.n, -1)
