"""PReLU."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register


def _axes(value: Any) -> Any:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


@register("PReLU")
class PReLU(Layer):
    """Leaky ReLU whose negative slope `alpha` is learned, `keras.layers.PReLU`:
    `relu(x) - alpha * relu(-x)`.

    Args:
        alpha_initializer: initializer of alpha (Keras's default: zeros, a plain ReLU at first).
        shared_axes: axes (Keras counts the batch axis, so 1 is the first per-sample axis) along
            which one alpha is shared; for (batch, height, width, channels), [1, 2] gives one
            alpha per channel.

    Weights: `alpha`, shaped like one sample with 1 on the shared axes (in the spec's layout).
    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({"alpha_initializer": "uniform"}, ((4, 6),)),
        # one alpha per channel: the spatial axes are [1, 2] channels_last, [2, 3] channels_first
        Example({"alpha_initializer": "he_uniform", "shared_axes": [1, 2]}, ((5, 4, 3),),
                data_formats=("channels_last",)),
        Example({"alpha_initializer": "he_uniform", "shared_axes": [2, 3]}, ((5, 4, 3),),
                data_formats=("channels_first",)),
        Example({"shared_axes": 1}, ((6, 3),)),
    )

    alpha_initializer: Initializer = Field("zeros", description="Initializer of alpha.")
    shared_axes: Annotated[list[Annotated[int, Field(strict=True, ge=1)]] | None,
                           BeforeValidator(_axes, json_schema_input_type=int | list[int] | None)] = Field(
        None, description="Axes (batch axis counted, so >= 1) that share one alpha.")

    def _alpha_shape(self, shape: Shape) -> Shape:
        alpha = list(shape)
        for axis in self.shared_axes or ():
            if axis > len(shape):
                raise ShapeError(f"shared axis {axis} is out of range for an input {fmt_shape(shape)}")
            alpha[axis - 1] = 1
        return tuple(alpha)

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self._alpha_shape(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        return [Weight("alpha", self._alpha_shape(input_shapes[0]), self.alpha_initializer)]

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        alpha = module.alpha
        if module.internal_channels_first:  # alpha is laid out like the spec's channels_last sample
            alpha = alpha.movedim(-1, 0)
        return F.relu(x) - alpha * F.relu(-x)
