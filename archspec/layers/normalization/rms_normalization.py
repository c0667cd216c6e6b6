"""RMSNormalization."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.normalization.layer_normalization import Axes, keras_weight_shape, sample_axes
from archspec.layers.registry import register


@register("RMSNormalization")
class RMSNormalization(Layer):
    """Root-mean-square normalization, `keras.layers.RMSNormalization`, with Keras's defaults.

    Computes `x * rsqrt(mean(x ** 2 over axis) + epsilon) * scale` in float32, with one
    trainable weight `scale` (initialised to ones) spanning `axis`.

    Args:
        axis: the axis or axes to normalise over, counting the batch axis like Keras (-1: the
            last). `scale` has the axes' sizes in the order of Keras's `sorted(axis)` on the
            values as written, and Keras multiplies it in by plain broadcasting (aligned with
            the input's last axes), so a list of axes must be the trailing ones.
        epsilon: added to the mean square.

    Input and output shape: the same, any rank.
    """

    torch_layout_default = "spec"
    examples = (
        Example({}, ((5, 6, 4),)),
        Example({"axis": [-2, -1], "epsilon": 0.01}, ((3, 4, 5),)),
        Example({"axis": 1}, ((7,),)),
    )

    axis: Axes = Field(-1, description="Axis or axes to normalise over (Keras counts the batch axis; -1 is the last).")
    epsilon: float = Field(1e-6, gt=0.0, description="Added to the mean square.")

    def scale_shape(self, shape: Shape) -> Shape:
        sample_axes(self.axis, len(shape))
        scale = keras_weight_shape(self.axis, shape)
        # Keras multiplies by `scale` without reshaping it onto the axes: numpy broadcasting
        trailing = shape[len(shape) - len(scale):]
        if any(s != t and s != 1 for s, t in zip(scale, trailing)):
            raise ShapeError(
                f"the scale weight {scale} of axis {self.axis} does not broadcast onto {fmt_shape(shape)}: "
                "Keras multiplies it against the last axes, so normalise over trailing axes"
            )
        return scale

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self.scale_shape(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        return [Weight("scale", self.scale_shape(input_shapes[0]), "ones", torch_name="weight")]

    def torch_setup(self, module, input_shapes, data_format):
        module.dims = sorted(a + 1 for a in sample_axes(self.axis, len(input_shapes[0])))

    def torch_forward(self, module, x):
        import torch

        rrms = torch.rsqrt(torch.mean(torch.square(x), dim=module.dims, keepdim=True) + self.epsilon)
        return x * rrms * module.weight
