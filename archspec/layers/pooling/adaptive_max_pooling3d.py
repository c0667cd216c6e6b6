"""AdaptiveMaxPooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveMaxPooling3D")
class AdaptiveMaxPooling3D(BaseAdaptivePooling):
    """Max over `output_size` bins of a volume (depth, height, width, channels), whatever its size,
    `keras.layers.AdaptiveMaxPooling3D`."""

    rank = 3
    reduction = "max"
    examples = (
        Example({"output_size": [2, 3, 2]}, ((5, 7, 4, 2),)),
        Example({"output_size": 2}, ((4, 3, 5, 2),)),
    )
