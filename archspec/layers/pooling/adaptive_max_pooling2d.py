"""AdaptiveMaxPooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveMaxPooling2D")
class AdaptiveMaxPooling2D(BaseAdaptivePooling):
    """Max over `output_size` bins of an image (height, width, channels), whatever its size,
    `keras.layers.AdaptiveMaxPooling2D`."""

    rank = 2
    reduction = "max"
    examples = (
        Example({"output_size": [3, 4]}, ((7, 9, 3),)),
        Example({"output_size": 2}, ((8, 6, 2),)),
        Example({"output_size": [2, 5]}, ((5, 3, 2),)),
    )
