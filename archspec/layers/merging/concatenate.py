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
        sizes = [s[axis] for s in input_shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    mask_policy = "produce"

    def torch_mask(self, module, inputs, masks):
        """Keras's Concatenate.compute_mask: the inputs' masks (all True where one has none)
        joined along `axis`, then any() over the last axis."""
        import torch

        if all(m is None for m in masks):
            return None
        rank = len(module.input_shapes[0])
        axis = keras_axis(self.axis, rank)
        if axis == rank - 1:  # joined along the channels: any() of the joined masks
            if any(m is None for m in masks):
                return None  # all True: the same as no mask
            out = masks[0]
            for m in masks[1:]:
                out = out | m
            return out
        ref = next(m for m in masks if m is not None)
        parts = []
        for x, m in zip(inputs, masks):
            if m is None:  # the input's length along `axis` (its layout is the spec's: axis != channels)
                shape = list(ref.shape)
                shape[axis + 1] = x.shape[axis + 1]
                m = torch.ones(shape, dtype=torch.bool, device=ref.device)
            parts.append(m)
        return torch.cat(parts, dim=axis + 1)

    def torch_layout(self, input_shapes, data_format):
        rank = len(input_shapes[0])
        on_channels = keras_axis(self.axis, rank) == rank - 1
        return "channels_first" if data_format == "channels_last" and on_channels and rank >= 2 else "spec"

    def torch_setup(self, module, input_shapes, data_format):
        module.dim = 1 if module.layout == "channels_first" else keras_axis(self.axis, len(input_shapes[0])) + 1

    def torch_forward(self, module, *xs):
        import torch

        return torch.cat(xs, dim=module.dim)
