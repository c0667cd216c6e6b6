"""Multiply."""

from archspec.layers.base import Example
from archspec.layers.merging.base_merge import BaseMerge
from archspec.layers.registry import register


@register("Multiply")
class Multiply(BaseMerge):
    """Elementwise product of its inputs, `keras.layers.Multiply` (axes of size 1 broadcast)."""

    torch_fold = "mul"

    examples = (
        Example({}, ((4, 4, 3), (4, 4, 3))),
        Example({}, ((5,), (5,), (5,))),
        Example({}, ((4, 1, 3), (4, 5, 1))),
    )
