"""What 1-D and 2-D depthwise convolutions share (Keras's `BaseDepthwiseConv`)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import (
    DataFormat, IntTuple, Layer, Padding, Shape, ShapeError, Weight, expand_tuple, fmt_shape, image, require_rank,
    free_windows, spatial, too_short, window_output,
)


def expand_window_args(layer: Layer) -> None:
    """kernel_size, strides and dilation_rate to one int per axis (Keras's standardize_tuple)."""
    for key in ("kernel_size", "strides", "dilation_rate"):
        object.__setattr__(layer, key, expand_tuple(getattr(layer, key), layer.rank, key))


def windowed_dims(layer: Layer, shape: Shape, data_format: DataFormat) -> tuple[Shape, int]:
    """(output spatial sizes, input channels) of a convolution with the layer's window arguments.

    Strides and dilation may both exceed 1 here: Keras 3 computes that case as the dilated
    convolution at stride 1, subsampled, which is the strided dilated convolution.
    """
    require_rank(shape, layer.rank + 1, f"a {layer.rank}-D input with channels")
    dims, channels = spatial(shape, data_format)
    free_windows(dims, layer.strides, layer.padding)
    out = tuple(window_output(n, k, s, layer.padding, d)
                for n, k, s, d in zip(dims, layer.kernel_size, layer.strides, layer.dilation_rate))
    if too_short(out):
        raise ShapeError(f"kernel {'x'.join(map(str, layer.kernel_size))} (dilation "
                         f"{'x'.join(map(str, layer.dilation_rate))}) with padding 'valid' does not fit its input "
                         f"{fmt_shape(shape)}")
    return out, channels


def depthwise_weight(name: str, layer: Layer, channels: int, initializer: str, torch_name: str) -> Weight:
    """Keras's (*window, in, multiplier) kernel; PyTorch's grouped convolution wants
    (in * multiplier, 1, *window), output channel c * multiplier + m, as TensorFlow orders them."""
    rank = layer.rank
    return Weight(name, (*layer.kernel_size, channels, layer.depth_multiplier), initializer, torch_name=torch_name,
                  torch_permute=(rank, rank + 1, *range(rank)),
                  torch_shape=(channels * layer.depth_multiplier, 1, *layer.kernel_size))


def same_padding_setup(layer: Layer, module, input_shapes: list[Shape], data_format: DataFormat) -> None:
    """module.padding (for the op) and module.pad (F.pad, where TensorFlow pads unevenly)."""
    from archspec.backends.torch import ops

    dims, channels = spatial(input_shapes[0], data_format)
    module.padding, module.pad = (0,) * layer.rank, None
    if layer.padding == "same":
        module.padding, module.pad = ops.tf_same_padding(dims, layer.kernel_size, layer.strides, layer.dilation_rate)
    module.channels = channels
    module.conv = ops.CONV[layer.rank]


class BaseDepthwiseConv(Layer):
    """N-D depthwise convolution; subclasses set `rank`.

    Every input channel is convolved with its own `depth_multiplier` filters, the outputs
    stacked channel by channel (in * depth_multiplier channels, c * depth_multiplier + m).

    Args:
        kernel_size: window size, one int for every axis or one per axis.
        strides, dilation_rate: one int or one per axis (Keras 3 allows both above 1).
        padding: "valid" or "same" (TensorFlow's: the odd pixel after).
        depth_multiplier: filters per input channel.

    Input shape: (batch, *spatial, channels) for channels_last, (batch, channels, *spatial) otherwise.
    Output shape: the same with channels * depth_multiplier channels and the convolved spatial sizes.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    kernel_size: IntTuple = Field(..., description="Window size: one int, or one per spatial axis.")
    strides: IntTuple = Field((1,), description="Step of the window: one int, or one per spatial axis.")
    padding: Padding = Field("valid", description="valid: none; same: TensorFlow's (odd pixel after).")
    depth_multiplier: int = Field(1, ge=1, strict=True, description="Output channels per input channel.")
    dilation_rate: IntTuple = Field((1,), description="Spacing of the kernel taps: one int, or one per axis.")
    activation: Activation = Field("linear", description="Activation applied to the output.")
    use_bias: bool = Field(True, description="Add a learned bias per output channel.")
    depthwise_initializer: Initializer = Field("glorot_uniform", description="Initializer of the depthwise kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    @model_validator(mode="after")
    def _expand(self):
        expand_window_args(self)
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        out, channels = windowed_dims(self, input_shapes[0], data_format)
        return image(out, channels * self.depth_multiplier, data_format)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        _, channels = spatial(input_shapes[0], data_format)
        kernel = depthwise_weight("kernel", self, channels, self.depthwise_initializer, "weight")
        if not self.use_bias:
            return [kernel]
        return [kernel, Weight("bias", (channels * self.depth_multiplier,), self.bias_initializer)]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        out, channels = spatial(output_shape, data_format)
        return math.prod(out) * channels * math.prod(self.kernel_size)

    def torch_setup(self, module, input_shapes, data_format):
        same_padding_setup(self, module, input_shapes, data_format)

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if module.pad is not None:
            x = F.pad(x, module.pad)
        return module.conv(x, module.weight, getattr(module, "bias", None), self.strides, module.padding,
                           self.dilation_rate, module.channels)
