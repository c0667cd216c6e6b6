"""What the merging layers share: two or more inputs."""

from __future__ import annotations

from typing import ClassVar

from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, fmt_shape


def broadcast_shapes(input_shapes: list[Shape]) -> Shape:
    """Keras's merge rule: inputs of one rank whose axes match or are 1."""
    rank = len(input_shapes[0])
    if any(len(s) != rank for s in input_shapes):
        raise ShapeError(f"inputs must have the same rank, got {', '.join(map(fmt_shape, input_shapes))}")
    out = []
    for sizes in zip(*input_shapes):
        big = {n for n in sizes if n != 1 and n is not None}
        if len(big) > 1:
            raise ShapeError(f"inputs must have the same shape (or 1 on an axis), got "
                             f"{', '.join(map(fmt_shape, input_shapes))}")
        out.append(big.pop() if big else (None if None in sizes else 1))
    return tuple(out)


class BaseMerge(Layer):
    """Elementwise merge of two or more inputs of one shape (axes of size 1 broadcast).

    Subclasses name the pairwise torch function that folds the inputs (`torch_fold`).
    """

    min_inputs = 2
    max_inputs = None
    mask_policy = "merge"
    torch_fold: ClassVar[str] = "add"

    def torch_forward(self, module, *xs):
        import torch

        fold = getattr(torch, self.torch_fold)
        out = xs[0]
        for x in xs[1:]:
            out = fold(out, x)
        return out

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        return broadcast_shapes(input_shapes)
