"""AdaptiveAveragePooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveAveragePooling2D")
class AdaptiveAveragePooling2D(BaseAdaptivePooling):
    """Mean over `output_size` bins of an image (height, width, channels), whatever its size,
    `keras.layers.AdaptiveAveragePooling2D`."""

    rank = 2
    reduction = "mean"
    examples = (
        Example({"output_size": [3, 4]}, ((7, 9, 3),)),
        Example({"output_size": 2}, ((8, 6, 2),)),
        Example({"output_size": [2, 5]}, ((5, 3, 2),)),
    )
