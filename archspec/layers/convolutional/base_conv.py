"""What 1-D, 2-D and 3-D convolutions share (Keras's `BaseConv`): the rank is a class attribute."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import (
    DataFormat, IntTuple, Layer, Shape, ShapeError, Weight, expand_tuple, fmt_shape, image, require_rank,
    free_windows, spatial, too_short, window_output,
)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


ConvPadding = Annotated[Literal["valid", "same", "causal"], BeforeValidator(_lower)]


def kernel_to_torch(rank: int) -> tuple[int, ...]:
    """Keras's (*window, in, out) -> PyTorch's (out, in, *window)."""
    return (rank + 1, rank, *range(rank))


class BaseConv(Layer):
    """N-D convolution; subclasses set `rank`.

    Args:
        filters: number of output channels.
        kernel_size: window size, one int for every axis or one per axis.
        strides, dilation_rate: one int or one per axis (not both above 1).
        padding: "valid", "same" (TensorFlow's: the odd pixel after), or "causal" (1-D only).
        groups: channels are split into this many independent groups.

    Input shape: (batch, *spatial, channels) for channels_last, (batch, channels, *spatial) otherwise.
    Output shape: the same with `filters` channels and the convolved spatial sizes.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    filters: int = Field(..., ge=1, strict=True, description="Number of output channels.")
    kernel_size: IntTuple = Field(..., description="Window size: one int, or one per spatial axis.")
    strides: IntTuple = Field((1,), description="Step of the window: one int, or one per spatial axis.")
    padding: ConvPadding = Field("valid", description="valid: none; same: TensorFlow's (odd pixel after); "
                                                      "causal: left padding (1-D only).")
    dilation_rate: IntTuple = Field((1,), description="Spacing of the kernel taps: one int, or one per axis.")
    groups: int = Field(1, ge=1, strict=True, description="Independent channel groups (1: a full convolution).")
    activation: Activation = Field("linear", description="Activation applied to the output.")
    use_bias: bool = Field(True, description="Add a learned bias per output channel.")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    @model_validator(mode="after")
    def _expand(self):
        for key in ("kernel_size", "strides", "dilation_rate"):
            object.__setattr__(self, key, expand_tuple(getattr(self, key), self.rank, key))
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        if self.padding == "causal" and self.rank != 1:
            raise ValueError("padding 'causal' is for 1-D convolutions only")
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        if channels % self.groups:
            raise ShapeError(f"input channels ({channels}) must be divisible by groups ({self.groups})")
        padding = "same" if self.padding == "causal" else self.padding
        free_windows(dims, self.strides, padding)
        out = tuple(window_output(n, k, s, padding, d)
                    for n, k, s, d in zip(dims, self.kernel_size, self.strides, self.dilation_rate))
        if too_short(out):
            raise ShapeError(f"kernel {'x'.join(map(str, self.kernel_size))} with padding 'valid' does not fit "
                             f"its input {fmt_shape(shape)}")
        return image(out, self.filters, data_format)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        _, channels = spatial(input_shapes[0], data_format)
        kernel = Weight("kernel", (*self.kernel_size, channels // self.groups, self.filters), self.kernel_initializer,
                        torch_name="weight", torch_permute=kernel_to_torch(self.rank))
        if not self.use_bias:
            return [kernel]
        return [kernel, Weight("bias", (self.filters,), self.bias_initializer)]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        out, _ = spatial(output_shape, data_format)
        _, channels = spatial(input_shapes[0], data_format)
        return math.prod(out) * self.filters * math.prod(self.kernel_size) * (channels // self.groups)

    def keras_layer(self, data_format, name):
        from archspec.backends.keras.layers import FOR_EXPORT, generic_layer

        if FOR_EXPORT.get() and (self.groups > 1 or (self.rank == 3 and data_format == "channels_first")):
            return _exportable_layer(self, data_format, name)
        return generic_layer(self, data_format, name)

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import ops

        dims, _ = spatial(input_shapes[0], data_format)
        module.padding, module.pad = (0,) * self.rank, None
        if self.padding == "same":
            module.padding, module.pad = ops.tf_same_padding(dims, self.kernel_size, self.strides, self.dilation_rate)
        elif self.padding == "causal":  # all the padding before the first step
            module.pad = ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)
        module.conv = ops.CONV[self.rank]

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if module.pad is not None:
            x = F.pad(x, module.pad)
        return module.conv(x, module.weight, getattr(module, "bias", None), self.strides, module.padding,
                           self.dilation_rate, self.groups)


def _exportable_layer(cfg: BaseConv, data_format, name):
    """The Keras convolution for ONNX export: channels last, one convolution per group.

    TensorFlow runs grouped convolutions and channels-first 3-D ones through XLA on the CPU, and
    tf2onnx cannot convert an XLA call. The same function written with plain convolutions keeps
    the same `kernel` and `bias` variables, so the exported file takes the neutral weights.
    """
    import keras

    from archspec.backends.keras.layers import keras_class, keras_kwargs

    base = keras_class(cfg.type_name)
    to_last = (0, *range(2, cfg.rank + 2), 1)
    to_first = (0, cfg.rank + 1, *range(1, cfg.rank + 1))

    class ExportableConv(base):
        def call(self, inputs):
            ops = keras.ops
            if self.data_format == "channels_first":
                inputs = ops.transpose(inputs, to_last)
            padding = self.padding
            if padding == "causal":
                inputs = ops.pad(inputs, [[0, 0], [(self.kernel_size[0] - 1) * self.dilation_rate[0], 0], [0, 0]])
                padding = "valid"
            groups = zip(ops.split(inputs, self.groups, axis=-1), ops.split(self.kernel, self.groups, axis=-1))
            outputs = ops.concatenate([
                ops.conv(x, k, strides=list(self.strides), padding=padding, dilation_rate=self.dilation_rate,
                         data_format="channels_last")
                for x, k in groups
            ], axis=-1)
            if self.use_bias:
                outputs = outputs + self.bias
            if self.data_format == "channels_first":
                outputs = ops.transpose(outputs, to_first)
            return self.activation(outputs) if self.activation is not None else outputs

    return ExportableConv(**keras_kwargs(cfg, data_format, base), name=name)
