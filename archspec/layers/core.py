"""Dense, Activation, Dropout."""

from __future__ import annotations

import math

from pydantic import Field

from archspec.layers.activations import Activation as ActivationName
from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, Weight
from archspec.layers.initializers import Initializer
from archspec.layers.registry import register


@register("Dense")
class Dense(Layer):
    """Fully connected layer on the last axis (inputs of rank > 2 keep their leading axes)."""

    units: int = Field(..., ge=1, strict=True)
    activation: ActivationName = "linear"
    use_bias: bool = True
    kernel_initializer: Initializer = "glorot_uniform"
    bias_initializer: Initializer = "zeros"

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        if not shape:
            raise ShapeError("expects inputs of rank 2 or more, got a scalar per sample")
        return (*shape[:-1], self.units)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        kernel = Weight("kernel", (input_shapes[0][-1], self.units), self.kernel_initializer)
        return [kernel, Weight("bias", (self.units,), self.bias_initializer)] if self.use_bias else [kernel]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        return math.prod(output_shape[:-1]) * input_shapes[0][-1] * self.units


@register("Activation")
class Activation(Layer):
    """Applies an activation function."""

    activation: ActivationName


@register("Dropout")
class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs while training; the identity at inference."""

    rate: float = Field(..., ge=0.0, lt=1.0)
    seed: int | None = None
