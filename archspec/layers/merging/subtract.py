"""Subtract."""

from archspec.layers.base import Example
from archspec.layers.merging.base_merge import BaseMerge
from archspec.layers.registry import register


@register("Subtract")
class Subtract(BaseMerge):
    """The first input minus the second, `keras.layers.Subtract` (exactly two inputs; axes of size 1 broadcast)."""

    max_inputs = 2
    examples = (Example({}, ((4, 4, 3), (4, 4, 3))), Example({}, ((6,), (1,))), Example({}, ((3, 5), (1, 5))))

    def torch_forward(self, module, a, b):
        return a - b
