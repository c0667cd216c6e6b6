"""AdaptiveAveragePooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveAveragePooling1D")
class AdaptiveAveragePooling1D(BaseAdaptivePooling):
    """Mean over `output_size` bins of a sequence (steps, channels), whatever its size,
    `keras.layers.AdaptiveAveragePooling1D`."""

    rank = 1
    reduction = "mean"
    examples = (
        Example({"output_size": 4}, ((10, 3),)),
        Example({"output_size": 3}, ((7, 2),)),
        Example({"output_size": 5}, ((3, 2),)),
    )
