"""What adaptive average and max pooling of every rank share (Keras's `BaseAdaptivePooling`)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from archspec.layers.base import (
    DataFormat, IntTuple, Layer, Shape, ShapeError, expand_tuple, fmt_shape, image, require_rank, spatial,
)


def adaptive_windows(size: int, out: int) -> tuple[int, list[int], list[bool]]:
    """Keras's bins for one axis: (small window, window starts, which bins take the big window).

    Bin i covers [floor(i*size/out), ceil((i+1)*size/out)), PyTorch's rule too. Every bin is
    ceil(size/out) ("small") or one more ("big") long, which is how Keras computes them: two
    stride-1 pools, one per length, and a gather of each bin's start.
    """
    small = math.ceil(size / out)
    starts = [min(i * size // out, size - 1) for i in range(out)]
    ends = [min(-(-(i + 1) * size // out), size) for i in range(out)]
    return small, starts, [e - s == small + 1 for s, e in zip(starts, ends)]


class BaseAdaptivePooling(Layer):
    """Pools each spatial axis into `output_size` bins, whatever the input's size; subclasses
    set `rank` and `reduction` ("mean" or "max").

    Bin i of an axis of length n spans [floor(i*n/out), ceil((i+1)*n/out)) (bins overlap when
    n is not a multiple of out; an output larger than the input repeats values).

    Args:
        output_size: bins per spatial axis, one int or one per axis.

    Input shape: (batch, *spatial, channels) for channels_last.
    Output shape: (batch, *output_size, channels).
    """

    rank: ClassVar[int] = 2
    reduction: ClassVar[str] = "mean"
    torch_layout_default = "channels_first"

    output_size: IntTuple = Field(..., description="Bins per spatial axis: one int, or one per axis.")

    @model_validator(mode="after")
    def _expand(self):
        object.__setattr__(self, "output_size", expand_tuple(self.output_size, self.rank, "output_size"))
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        if any(n == 1 or out == 1 for n, out in zip(dims, self.output_size)):
            # Keras pools with a window of ceil(n/out) + 1 even where no bin needs it; on an axis
            # of 1 bin or 1 value that window is longer than the axis: TensorFlow refuses it in
            # graph mode (fit, predict, export) and its eager max pool kills the process (SIGFPE)
            raise ShapeError(
                f"output_size {list(self.output_size)} on input {fmt_shape(shape)}: Keras 3's adaptive pooling "
                "fails when an axis has 1 output bin or 1 input value (its TensorFlow pool window exceeds "
                "the axis); use a global pooling or a pooling whose pool_size is that axis's size")
        return image(self.output_size, channels, data_format)

    def torch_setup(self, module, input_shapes, data_format):
        import torch

        from archspec.backends.torch import ops

        dims, _ = spatial(input_shapes[0], data_format)
        module.pool = (ops.MAX_POOL if self.reduction == "max" else ops.AVG_POOL)[self.rank]
        # per axis: (dim, small window, whether a big window is needed); identity axes are skipped
        module.axes = []
        for index, (n, out) in enumerate(zip(dims, self.output_size)):
            if n == out:
                continue
            small, starts, big = adaptive_windows(n, out)
            small_count = n - small + 1  # outputs of the small pool, before the big pool's
            gather = [s + small_count if b else s for s, b in zip(starts, big)]
            module.register_buffer(f"gather{index}", torch.tensor(gather, dtype=torch.long), persistent=False)
            module.axes.append((index, small, any(big)))

    def torch_forward(self, module, x):
        import torch

        # Keras's computation (also one the ONNX exporter can convert, unlike aten's adaptive
        # pools): stride-1 pools of both window lengths along one axis, then a gather of the bins
        for index, small, needs_big in module.axes:
            dim = 2 + index
            window = [1] * self.rank
            window[index] = small
            pooled = [module.pool(x, tuple(window), 1)]
            if needs_big:
                window[index] = small + 1
                pooled.append(module.pool(x, tuple(window), 1))
            x = torch.cat(pooled, dim=dim) if needs_big else pooled[0]
            x = x.index_select(dim, getattr(module, f"gather{index}"))
        return x
