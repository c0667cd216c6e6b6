"""ZeroPadding1D."""

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_zero_padding import BaseZeroPadding


@register("ZeroPadding1D")
class ZeroPadding1D(BaseZeroPadding):
    """Pads a sequence's steps with zeros, `keras.layers.ZeroPadding1D`."""

    rank = 1
    examples = (Example({}, ((6, 3),)), Example({"padding": [1, 2]}, ((6, 3),)))
