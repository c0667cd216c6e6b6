"""Add."""

from archspec.layers.base import Example
from archspec.layers.merging.base_merge import BaseMerge
from archspec.layers.registry import register


@register("Add")
class Add(BaseMerge):
    """Elementwise sum of its inputs, `keras.layers.Add`."""

    examples = (Example({}, ((4, 4, 3), (4, 4, 3))), Example({}, ((5,), (5,), (5,))))
