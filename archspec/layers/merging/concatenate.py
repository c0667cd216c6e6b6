"""Concatenate."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, fmt_shape, keras_axis
from archspec.layers.registry import register


@register("Concatenate")
class Concatenate(Layer):
    """Joins its inputs along `axis`, `keras.layers.Concatenate` (Keras counts the batch axis; -1 is the last).

    Input shapes: equal except along `axis`. Output shape: the sum of their sizes on `axis`.
    """

    min_inputs = 2
    max_inputs = None
    examples = (
        Example({}, ((4, 4, 3), (4, 4, 2)), data_formats=("channels_last",)),
        Example({"axis": 1}, ((4, 4, 3), (4, 4, 2)), data_formats=("channels_first",)),
        Example({"axis": 1}, ((2, 3), (4, 3)), data_formats=("channels_last",)),
        Example({}, ((5,), (2,), (1,))),
    )

    axis: int = Field(-1, description="Axis to join along (Keras counts the batch axis).")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        rank = len(input_shapes[0])
        if any(len(s) != rank for s in input_shapes):
            raise ShapeError(f"inputs must have the same rank, got {', '.join(map(fmt_shape, input_shapes))}")
        axis = keras_axis(self.axis, rank)
        for shape in input_shapes[1:]:
            if shape[:axis] + shape[axis + 1:] != input_shapes[0][:axis] + input_shapes[0][axis + 1:]:
                raise ShapeError(f"inputs must match except along axis {self.axis}, got "
                                 + ", ".join(map(fmt_shape, input_shapes)))
        out = list(input_shapes[0])
        out[axis] = sum(s[axis] for s in input_shapes)
        return tuple(out)

    def torch_layout(self, input_shapes, data_format):
        rank = len(input_shapes[0])
        on_channels = keras_axis(self.axis, rank) == rank - 1
        return "channels_first" if data_format == "channels_last" and on_channels and rank >= 2 else "spec"

    def torch_setup(self, module, input_shapes, data_format):
        module.dim = 1 if module.layout == "channels_first" else keras_axis(self.axis, len(input_shapes[0])) + 1

    def torch_forward(self, module, *xs):
        import torch

        return torch.cat(xs, dim=module.dim)
