"""ZeroPadding3D."""

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_zero_padding import BaseZeroPadding


@register("ZeroPadding3D")
class ZeroPadding3D(BaseZeroPadding):
    """Pads a volume's depth, height and width with zeros, `keras.layers.ZeroPadding3D`."""

    rank = 3
    examples = (Example({}, ((3, 4, 3, 2),)), Example({"padding": [1, [0, 2], 1]}, ((3, 4, 3, 2),)))
