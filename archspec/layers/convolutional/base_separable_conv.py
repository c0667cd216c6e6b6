"""What 1-D and 2-D separable convolutions share (Keras's `BaseSeparableConv`)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, IntTuple, Layer, Padding, Shape, Weight, image, spatial
from archspec.layers.convolutional.base_conv import kernel_to_torch
from archspec.layers.convolutional.base_depthwise_conv import (
    depthwise_weight, expand_window_args, same_padding_setup, windowed_dims,
)


class BaseSeparableConv(Layer):
    """N-D depthwise separable convolution; subclasses set `rank`.

    A depthwise convolution (each input channel with its own `depth_multiplier` filters)
    followed by a 1x1 convolution mixing the in * depth_multiplier channels into `filters`.

    Args:
        filters: number of output channels.
        kernel_size: window size of the depthwise step, one int or one per axis.
        strides, dilation_rate: one int or one per axis (Keras 3 allows both above 1).
        padding: "valid" or "same" (TensorFlow's: the odd pixel after).
        depth_multiplier: depthwise filters per input channel.

    Input shape: (batch, *spatial, channels) for channels_last, (batch, channels, *spatial) otherwise.
    Output shape: the same with `filters` channels and the convolved spatial sizes.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    filters: int = Field(..., ge=1, strict=True, description="Number of output channels.")
    kernel_size: IntTuple = Field(..., description="Window size: one int, or one per spatial axis.")
    strides: IntTuple = Field((1,), description="Step of the window: one int, or one per spatial axis.")
    padding: Padding = Field("valid", description="valid: none; same: TensorFlow's (odd pixel after).")
    dilation_rate: IntTuple = Field((1,), description="Spacing of the kernel taps: one int, or one per axis.")
    depth_multiplier: int = Field(1, ge=1, strict=True, description="Depthwise filters per input channel.")
    activation: Activation = Field("linear", description="Activation applied to the output.")
    use_bias: bool = Field(True, description="Add a learned bias per output channel.")
    depthwise_initializer: Initializer = Field("glorot_uniform", description="Initializer of the depthwise kernel.")
    pointwise_initializer: Initializer = Field("glorot_uniform", description="Initializer of the pointwise kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    @model_validator(mode="after")
    def _expand(self):
        expand_window_args(self)
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        out, _ = windowed_dims(self, input_shapes[0], data_format)
        return image(out, self.filters, data_format)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        _, channels = spatial(input_shapes[0], data_format)
        middle = channels * self.depth_multiplier
        weights = [
            depthwise_weight("depthwise_kernel", self, channels, self.depthwise_initializer, "depthwise_weight"),
            Weight("pointwise_kernel", (*(1,) * self.rank, middle, self.filters), self.pointwise_initializer,
                   torch_name="pointwise_weight", torch_permute=kernel_to_torch(self.rank)),
        ]
        if self.use_bias:
            weights.append(Weight("bias", (self.filters,), self.bias_initializer))
        return weights

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        out, _ = spatial(output_shape, data_format)
        _, channels = spatial(input_shapes[0], data_format)
        middle = channels * self.depth_multiplier
        return math.prod(out) * middle * (math.prod(self.kernel_size) + self.filters)

    def torch_setup(self, module, input_shapes, data_format):
        same_padding_setup(self, module, input_shapes, data_format)

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if module.pad is not None:
            x = F.pad(x, module.pad)
        x = module.conv(x, module.depthwise_weight, None, self.strides, module.padding, self.dilation_rate,
                        module.channels)
        return module.conv(x, module.pointwise_weight, getattr(module, "bias", None))
