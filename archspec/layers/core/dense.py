"""Dense."""

from __future__ import annotations

import math

from pydantic import Field

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight
from archspec.layers.registry import register


@register("Dense")
class Dense(Layer):
    """Fully connected layer on the last axis, `keras.layers.Dense`.

    Args:
        units: size of the output's last axis.

    Input shape: (batch, ..., features). Output shape: (batch, ..., units).
    """

    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({"units": 5, "activation": "relu"}, ((7,),)),
        Example({"units": 3, "use_bias": False, "activation": "softmax"}, ((4, 6),)),
        Example({"units": 2, "kernel_initializer": "he_normal", "bias_initializer": "ones"}, ((3, 2, 4),)),
    )

    units: int = Field(..., ge=1, strict=True, description="Size of the output's last axis.")
    activation: Activation = Field("linear", description="Activation applied to the output.")
    use_bias: bool = Field(True, description="Add a learned bias.")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        if not shape:
            raise ShapeError("expects inputs of rank 2 or more, got a scalar per sample")
        if shape[-1] is None:
            raise ShapeError("needs a fixed size on its last axis (features), but it is free (None)")
        return (*shape[:-1], self.units)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        kernel = Weight("kernel", (input_shapes[0][-1], self.units), self.kernel_initializer,
                        torch_name="weight", torch_permute=(1, 0))
        return [kernel, Weight("bias", (self.units,), self.bias_initializer)] if self.use_bias else [kernel]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        return math.prod(output_shape[:-1]) * input_shapes[0][-1] * self.units

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        return F.linear(x, module.weight, getattr(module, "bias", None))
