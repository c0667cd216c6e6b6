"""AdaptiveAveragePooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveAveragePooling3D")
class AdaptiveAveragePooling3D(BaseAdaptivePooling):
    """Mean over `output_size` bins of a volume (depth, height, width, channels), whatever its size,
    `keras.layers.AdaptiveAveragePooling3D`."""

    rank = 3
    reduction = "mean"
    examples = (
        Example({"output_size": [2, 3, 2]}, ((5, 7, 4, 2),)),
        Example({"output_size": 2}, ((4, 3, 5, 2),)),
    )
