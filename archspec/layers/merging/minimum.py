"""Minimum."""

from archspec.layers.base import Example
from archspec.layers.merging.base_merge import BaseMerge
from archspec.layers.registry import register


@register("Minimum")
class Minimum(BaseMerge):
    """Elementwise minimum of its inputs, `keras.layers.Minimum` (axes of size 1 broadcast)."""

    torch_fold = "minimum"

    examples = (
        Example({}, ((4, 4, 3), (4, 4, 3))),
        Example({}, ((5,), (5,), (5,))),
        Example({}, ((1, 4, 3), (4, 4, 1))),
    )
