"""What max and average pooling of every rank share (Keras's `BasePooling`)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from archspec.layers.base import (
    DataFormat, IntTuple, Layer, Padding, Shape, ShapeError, expand_tuple, fmt_shape, image, require_rank,
    free_windows, same_padding, spatial, too_short, window_output,
)


class BasePooling(Layer):
    """Max or mean over sliding windows; subclasses set `rank` and `reduction`.

    Args:
        pool_size: window size, one int or one per spatial axis.
        strides: step of the window; default: pool_size.
        padding: "valid" or "same" (TensorFlow's; padded values never win a max and are not
            counted in a mean).

    Input shape: (batch, *spatial, channels) for channels_last. Output shape: the pooled sizes.
    """

    rank: ClassVar[int] = 2
    reduction: ClassVar[str] = "max"
    torch_layout_default = "channels_first"

    pool_size: IntTuple = Field((2,), description="Window size: one int, or one per spatial axis.")
    strides: IntTuple | None = Field(None, description="Step of the window. Default: pool_size.")
    padding: Padding = Field("valid", description="valid or same (TensorFlow's).")

    @model_validator(mode="after")
    def _expand(self):
        object.__setattr__(self, "pool_size", expand_tuple(self.pool_size, self.rank, "pool_size"))
        strides = self.pool_size if self.strides is None else expand_tuple(self.strides, self.rank, "strides")
        object.__setattr__(self, "strides", strides)
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        free_windows(dims, self.strides, self.padding)
        if self.reduction == "mean" and self.padding == "same" and None in dims:
            raise ShapeError("average pooling with padding 'same' needs a fixed length on every axis (the edge "
                             "windows average fewer values): give the input a fixed length, or use padding 'valid'")
        out = tuple(window_output(n, k, s, self.padding) for n, k, s in zip(dims, self.pool_size, self.strides))
        if too_short(out):
            raise ShapeError(f"pool {'x'.join(map(str, self.pool_size))} with padding 'valid' does not fit "
                             f"its input {fmt_shape(shape)}")
        return image(out, channels, data_format)

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import ops

        dims, _ = spatial(input_shapes[0], data_format)
        pairs = [same_padding(n, k, s) for n, k, s in zip(dims, self.pool_size, self.strides)]
        module.pad = ops.pad_tuple(pairs) if self.padding == "same" and any(map(sum, pairs)) else None
        module.pool = (ops.MAX_POOL if self.reduction == "max" else ops.AVG_POOL)[self.rank]
        if self.reduction == "mean" and module.pad is not None:
            module.register_buffer("scale", ops.count_scale(dims, self.pool_size, self.strides, module.pad),
                                   persistent=False)

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if module.pad is None:
            return module.pool(x, self.pool_size, self.strides)
        if self.reduction == "max":
            return module.pool(F.pad(x, module.pad, value=-math.inf), self.pool_size, self.strides)
        return module.pool(F.pad(x, module.pad), self.pool_size, self.strides) * module.scale


class BaseGlobalPooling(Layer):
    """Max or mean over every spatial axis; subclasses set `rank` and `reduction`.

    Args:
        keepdims: keep the spatial axes, with size 1.

    Input shape: (batch, *spatial, channels) for channels_last.
    Output shape: (batch, channels), or with keepdims (batch, 1, ..., 1, channels).
    """

    rank: ClassVar[int] = 2
    reduction: ClassVar[str] = "max"
    torch_layout_default = "channels_first"

    keepdims: bool = Field(False, description="Keep the spatial axes with size 1.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        _, channels = spatial(shape, data_format)
        return image((1,) * self.rank, channels, data_format) if self.keepdims else (channels,)

    def torch_forward(self, module, x):
        dims = tuple(range(2, 2 + self.rank))
        if self.reduction == "max":
            return x.amax(dim=dims, keepdim=self.keepdims)
        return x.mean(dim=dims, keepdim=self.keepdims)
