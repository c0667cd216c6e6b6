"""What 1-D, 2-D and 3-D transposed convolutions share (Keras's `BaseConvTranspose`)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Union

from pydantic import BeforeValidator, Field, model_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import (
    DataFormat, IntTuple, Layer, Padding, Shape, ShapeError, Weight, expand_tuple, fmt_shape, image, ints_tuple,
    require_rank, spatial,
)
from archspec.layers.convolutional.base_conv import kernel_to_torch


OutputPadding = Annotated[
    Union[tuple[Annotated[int, Field(strict=True, ge=0)], ...], None],
    BeforeValidator(ints_tuple, json_schema_input_type=Union[
        Annotated[int, Field(ge=0)], Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=3)],
        None]),
]


def transpose_geometry(size: int, window: int, stride: int, padding: str, output_padding: int | None,
                       dilation: int = 1) -> tuple[int, int]:
    """(output length, crop before) of one axis of a Keras transposed convolution on TensorFlow.

    The full transposed convolution is `(size - 1) * stride + effective window` long. Keras
    picks the output length (its `_get_output_shape_given_tf_padding`); TensorFlow then runs
    the gradient of a forward convolution from that length, whose 'same' padding (odd pixel
    after) is what it crops before: output step o is full step o + crop. Steps past the full
    length (output_padding) are zeros (then the bias).
    """
    effective = dilation * (window - 1) + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return (size - 1) * stride + effective + extra, 0
    if output_padding is None:
        out = size * stride
    else:
        out = (size - 1) * stride + effective % 2 + output_padding
    return out, max((size - 1) * stride + effective - out, 0) // 2


class BaseConvTranspose(Layer):
    """N-D transposed convolution ("deconvolution"); subclasses set `rank`.

    Each input step scatters `kernel` times its value over a window of the output, windows
    `strides` apart: the gradient of a convolution with respect to its input.

    Args:
        filters: number of output channels.
        kernel_size: window size, one int for every axis or one per axis.
        strides, dilation_rate: one int or one per axis (not both above 1).
        padding: "valid" (output (in - 1) * strides + window, at least in * strides) or
            "same" (output in * strides, cropped as TensorFlow does: the odd step at the end).
        output_padding: steps added at the end of each axis (each below its stride); when set,
            the length is (in - 1) * strides + window (valid) or + window % 2 (same), plus it.

    Input shape: (batch, *spatial, channels) for channels_last, (batch, channels, *spatial) otherwise.
    Output shape: the same with `filters` channels and the transposed spatial sizes.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    filters: int = Field(..., ge=1, strict=True, description="Number of output channels.")
    kernel_size: IntTuple = Field(..., description="Window size: one int, or one per spatial axis.")
    strides: IntTuple = Field((1,), description="Step between the output windows: one int, or one per spatial axis.")
    padding: Padding = Field("valid", description="valid: the full output; same: in * strides steps, cropped as "
                                                  "TensorFlow does (the odd step at the end).")
    output_padding: OutputPadding = Field(None, description="Steps added at the end of each axis (each below its "
                                                            "stride): one int, or one per axis. Default: Keras's "
                                                            "rule for the padding.")
    dilation_rate: IntTuple = Field((1,), description="Spacing of the kernel taps: one int, or one per axis.")
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
        if self.output_padding is not None:
            object.__setattr__(self, "output_padding", expand_tuple(self.output_padding, self.rank, "output_padding"))
            for axis, (extra, stride) in enumerate(zip(self.output_padding, self.strides)):
                if extra >= stride:
                    raise ValueError(f"output_padding must be below strides on every axis; axis {axis} has "
                                     f"output_padding {extra} and stride {stride}")
            if self.padding == "same":
                for axis, (k, d, extra) in enumerate(zip(self.kernel_size, self.dilation_rate, self.output_padding)):
                    # the output would be one stride short of what TensorFlow's 'same' gradient needs
                    if extra == 0 and (d * (k - 1) + 1) % 2 == 0:
                        raise ValueError(f"padding 'same' with output_padding 0 on axis {axis}, whose (dilated) "
                                         f"kernel is even ({d * (k - 1) + 1}), is an output TensorFlow cannot "
                                         f"compute; use output_padding >= 1 there, or leave it unset")
        return self

    def _geometry(self, dims: Shape) -> list[tuple[int, int]]:
        extras = self.output_padding or (None,) * self.rank
        return [transpose_geometry(n, k, s, self.padding, e, d)
                for n, k, s, e, d in zip(dims, self.kernel_size, self.strides, extras, self.dilation_rate)]

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, _ = spatial(shape, data_format)
        out = tuple(length for length, _ in self._geometry(dims))
        if min(out) <= 0:
            raise ShapeError(f"transposed convolution gives an empty output for its input {fmt_shape(shape)}")
        return image(out, self.filters, data_format)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        _, channels = spatial(input_shapes[0], data_format)
        # Keras: (*window, filters, in); PyTorch's conv_transpose: (in, filters, *window)
        kernel = Weight("kernel", (*self.kernel_size, self.filters, channels), self.kernel_initializer,
                        torch_name="weight", torch_permute=kernel_to_torch(self.rank))
        if not self.use_bias:
            return [kernel]
        return [kernel, Weight("bias", (self.filters,), self.bias_initializer)]

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        # every input step meets every kernel tap (products the crop drops are computed too)
        dims, channels = spatial(input_shapes[0], data_format)
        return math.prod(dims) * channels * self.filters * math.prod(self.kernel_size)

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import ops

        dims, _ = spatial(input_shapes[0], data_format)
        padding, output_padding, crop = [], [], []
        for n, k, s, d, (out, before) in zip(dims, self.kernel_size, self.strides, self.dilation_rate,
                                             self._geometry(dims)):
            full = (n - 1) * s + d * (k - 1) + 1
            after = full - before - out
            # PyTorch crops the same amount from both ends and may add output_padding zeros at
            # the end (Keras's rules never ask for a stride's worth or more); TensorFlow crops
            # at most one step more at the end, which a slice takes off
            common = max(min(before, after), 0)
            padding.append(common)
            output_padding.append(max(-after, 0))
            crop.append(after - common if after > common else 0)
            if before != common:  # cannot happen: TensorFlow's odd step is at the end
                raise AssertionError(f"unexpected transposed-convolution crop {before}, {after}")
        module.padding, module.output_padding = tuple(padding), tuple(output_padding)
        module.crop = tuple(slice(None, -c if c else None) for c in crop) if any(crop) else None
        module.conv = ops.CONV_TRANSPOSE[self.rank]

    def torch_forward(self, module, x):
        bias = getattr(module, "bias", None)
        if module.crop is None:
            return module.conv(x, module.weight, bias, self.strides, module.padding, module.output_padding, 1,
                               self.dilation_rate)
        x = module.conv(x, module.weight, None, self.strides, module.padding, module.output_padding, 1,
                        self.dilation_rate)
        x = x[(slice(None), slice(None), *module.crop)]
        return x if bias is None else x + bias.view(-1, *(1,) * self.rank)
