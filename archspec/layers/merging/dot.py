"""Dot."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, fmt_shape
from archspec.layers.registry import register

EPSILON = 1e-7  # keras.backend.epsilon(): the floor of the norm when normalizing


def _pair(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return tuple(value) if isinstance(value, list) else value


@register("Dot")
class Dot(Layer):
    """Dot product of two inputs along one axis of each, sample by sample, `keras.layers.Dot`.

    Args:
        axes: one axis for both inputs, or [axis of the first, axis of the second]. Keras counts
            the batch axis (which cannot be one of them); negative axes count from the end.
        normalize: L2-normalize both inputs along their axes first (x * min(1/|x|, 1/1e-7), as
            Keras does), which makes the output the cosine similarity.

    Input shapes: two tensors of rank >= 2 (batch included) whose `axes` have one size.
    Output shape: Keras's batch_dot: the first input's other axes, then the second's
    (batch excluded); (batch, 1) when nothing is left.
    """

    min_inputs = 2
    mask_policy = "consume"  # Keras: supports masking, its output has no mask
    max_inputs = 2
    torch_layout_default = "spec"
    examples = (
        Example({"axes": 1}, ((6,), (6,))),
        Example({"axes": [2, 1]}, ((3, 4), (4, 5)), data_formats=("channels_last",)),
        Example({"axes": -1, "normalize": True}, ((3, 4), (5, 4)), data_formats=("channels_last",)),
        Example({"axes": [1, 2], "normalize": True}, ((4,), (3, 4, 2)), data_formats=("channels_last",)),
        Example({"axes": [2, 1]}, ((3, 4), (5, 3)), data_formats=("channels_first",)),
    )

    axes: Annotated[tuple[int, int], BeforeValidator(_pair, json_schema_input_type=int | list[int])] = Field(
        ..., description="One axis for both inputs or [axis of input 1, axis of input 2] (batch axis counted).")
    normalize: bool = Field(False, description="L2-normalize the inputs along the axes first (cosine similarity).")

    def _axes(self, input_shapes: list[Shape]) -> tuple[int, int]:
        """The two axes as per-sample indices, checked."""
        axes = []
        for axis, shape in zip(self.axes, input_shapes):
            rank = len(shape) + 1
            full = axis % rank if axis < 0 else axis  # Keras takes a negative axis modulo the full rank
            if full == 0 or full >= rank:
                raise ShapeError(f"axis {axis} is out of range for an input {fmt_shape(shape)} "
                                 "(the batch axis cannot be one of them)")
            axes.append(full - 1)
        a, b = input_shapes
        if a[axes[0]] != b[axes[1]]:
            raise ShapeError(f"axes {list(self.axes)} have different sizes ({a[axes[0]]} != {b[axes[1]]}) in "
                             f"inputs {fmt_shape(a)}, {fmt_shape(b)}")
        return axes[0], axes[1]

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        a, b = self._axes(input_shapes)
        first, second = input_shapes
        out = first[:a] + first[a + 1:] + second[:b] + second[b + 1:]
        return out or (1,)

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        a, _ = self._axes(input_shapes)
        return math.prod(output_shape) * input_shapes[0][a]

    def torch_setup(self, module, input_shapes, data_format):
        a, b = self._axes(input_shapes)
        first, second = input_shapes
        module.dims = (a + 1, b + 1)
        module.rows = math.prod(first[:a] + first[a + 1:])
        module.cols = math.prod(second[:b] + second[b + 1:])
        module.out_shape = self.output_shape(input_shapes, data_format)

    def torch_forward(self, module, x, y):
        import torch

        dx, dy = module.dims
        if self.normalize:
            x = x * torch.clamp(torch.rsqrt((x * x).sum(dim=dx, keepdim=True)), max=1.0 / EPSILON)
            y = y * torch.clamp(torch.rsqrt((y * y).sum(dim=dy, keepdim=True)), max=1.0 / EPSILON)
        # as batch_dot: x's summed axis last, y's first; one batched matrix product
        x = x.movedim(dx, -1).reshape(x.shape[0], module.rows, x.shape[dx])
        y = y.movedim(dy, 1).reshape(y.shape[0], y.shape[dy], module.cols)
        return torch.bmm(x, y).reshape(x.shape[0], *module.out_shape)
