"""Conv2D."""

from __future__ import annotations

from pydantic import Field, model_validator

from archspec.layers.activations import Activation
from archspec.layers.base import (
    DataFormat, IntPair, Layer, Padding, Shape, ShapeError, Weight, image, require_rank, spatial,
    window_output,
)
from archspec.layers.initializers import Initializer
from archspec.layers.registry import register


@register("Conv2D", "Convolution2D")
class Conv2D(Layer):
    """2-D convolution over an image (H, W, C), Keras's `keras.layers.Conv2D`."""

    filters: int = Field(..., ge=1, strict=True, description="Number of output channels.")
    kernel_size: IntPair = Field(..., description="Window size: an int or [height, width].")
    strides: IntPair = (1, 1)
    padding: Padding = Field("valid", description="valid: no padding; same: TensorFlow's (odd pixel after).")
    dilation_rate: IntPair = (1, 1)
    groups: int = Field(1, ge=1, strict=True)
    activation: Activation = "linear"
    use_bias: bool = True
    kernel_initializer: Initializer = "glorot_uniform"
    bias_initializer: Initializer = "zeros"

    @model_validator(mode="after")
    def _strides_or_dilation(self):
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, 3, "an image (batch, height, width, channels)")
        (h, w), channels = spatial(shape, data_format)
        if channels % self.groups:
            raise ShapeError(f"input channels ({channels}) must be divisible by groups ({self.groups})")
        out = tuple(
            window_output(size, k, s, self.padding, d)
            for size, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate)
        )
        if min(out) <= 0:
            raise ShapeError(
                f"kernel {self.kernel_size[0]}x{self.kernel_size[1]} with padding 'valid' does not fit its input"
            )
        return image(out, self.filters, data_format)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        _, channels = spatial(input_shapes[0], data_format)
        kernel = Weight("kernel", (*self.kernel_size, channels // self.groups, self.filters), self.kernel_initializer)
        return [kernel, Weight("bias", (self.filters,), self.bias_initializer)] if self.use_bias else [kernel]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        (oh, ow), _ = spatial(output_shape, data_format)
        _, channels = spatial(input_shapes[0], data_format)
        kh, kw = self.kernel_size
        return oh * ow * self.filters * kh * kw * (channels // self.groups)
