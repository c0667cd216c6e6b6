"""Concatenate and Add."""

from __future__ import annotations

from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, fmt_shape, keras_axis
from archspec.layers.registry import register


class _Merge(Layer):
    min_inputs = 2
    max_inputs = None


@register("Concatenate")
class Concatenate(_Merge):
    """Joins inputs along `axis` (Keras counts the batch axis; -1 is the last)."""

    axis: int = -1

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        rank = len(input_shapes[0])
        if any(len(s) != rank for s in input_shapes):
            raise ShapeError(f"inputs must have the same rank, got {', '.join(map(fmt_shape, input_shapes))}")
        axis = keras_axis(self.axis, rank)
        for shape in input_shapes[1:]:
            if shape[:axis] + shape[axis + 1 :] != input_shapes[0][:axis] + input_shapes[0][axis + 1 :]:
                raise ShapeError(
                    f"inputs must match except along axis {self.axis}, got "
                    + ", ".join(map(fmt_shape, input_shapes))
                )
        out = list(input_shapes[0])
        out[axis] = sum(s[axis] for s in input_shapes)
        return tuple(out)


@register("Add")
class Add(_Merge):
    """Element-wise sum of inputs of one shape."""

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        if any(s != input_shapes[0] for s in input_shapes):
            raise ShapeError(f"inputs must have the same shape, got {', '.join(map(fmt_shape, input_shapes))}")
        return input_shapes[0]
