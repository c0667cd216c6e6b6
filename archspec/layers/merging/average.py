"""Average."""

from archspec.layers.base import Example
from archspec.layers.merging.base_merge import BaseMerge
from archspec.layers.registry import register


@register("Average")
class Average(BaseMerge):
    """Elementwise mean of its inputs, `keras.layers.Average` (the sum divided by their number)."""

    examples = (Example({}, ((4, 4, 3), (4, 4, 3))), Example({}, ((5,), (5,), (5,))), Example({}, ((2, 3), (2, 1))))

    def torch_forward(self, module, *xs):
        return super().torch_forward(module, *xs) / len(xs)
