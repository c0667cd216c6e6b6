"""Cropping3D."""

from __future__ import annotations

from typing import Any

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_cropping import BaseCropping, cropping_field


@register("Cropping3D")
class Cropping3D(BaseCropping):
    """Removes values from both ends of a volume's depth, height and width, `keras.layers.Cropping3D`.

    Args:
        cropping: an int (every end), one int per axis (both of its ends), or [before, after]
            per axis.

    Input shape: (batch, depth, height, width, channels) for channels_last. Output shape: the cropped sizes.
    """

    rank = 3
    examples = (Example({}, ((4, 5, 3, 2),)), Example({"cropping": [[1, 0], 0, [0, 2]]}, ((4, 5, 3, 2),)),
                Example({"cropping": [0, 2, 1]}, ((4, 5, 3, 2),)))

    cropping: Any = cropping_field(((1, 1), (1, 1), (1, 1)), "An int, one int per axis, or [before, after] per axis.")
