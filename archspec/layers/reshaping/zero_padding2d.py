"""ZeroPadding2D."""

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_zero_padding import BaseZeroPadding


@register("ZeroPadding2D")
class ZeroPadding2D(BaseZeroPadding):
    """Pads an image's height and width with zeros, `keras.layers.ZeroPadding2D`."""

    rank = 2
    examples = (Example({}, ((5, 4, 2),)), Example({"padding": [[1, 0], [2, 1]]}, ((5, 4, 2),)))
