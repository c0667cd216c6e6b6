"""Cropping2D."""

from __future__ import annotations

from typing import Any

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_cropping import BaseCropping, cropping_field


@register("Cropping2D")
class Cropping2D(BaseCropping):
    """Removes values from both ends of an image's height and width, `keras.layers.Cropping2D`.

    Args:
        cropping: an int (every end), one int per axis (both of its ends), or [before, after]
            per axis.

    Input shape: (batch, height, width, channels) for channels_last. Output shape: the cropped sizes.
    """

    rank = 2
    examples = (Example({"cropping": 1}, ((6, 5, 2),)), Example({"cropping": [[2, 0], [1, 2]]}, ((6, 5, 2),)),
                Example({"cropping": [1, 0]}, ((6, 5, 2),)), Example({}, ((3, 4, 2),)))

    cropping: Any = cropping_field(((0, 0), (0, 0)), "An int, one int per axis, or [before, after] per axis.")
