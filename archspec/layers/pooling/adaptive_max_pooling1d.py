"""AdaptiveMaxPooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_adaptive_pooling import BaseAdaptivePooling
from archspec.layers.registry import register


@register("AdaptiveMaxPooling1D")
class AdaptiveMaxPooling1D(BaseAdaptivePooling):
    """Max over `output_size` bins of a sequence (steps, channels), whatever its size,
    `keras.layers.AdaptiveMaxPooling1D`."""

    rank = 1
    reduction = "max"
    examples = (
        Example({"output_size": 4}, ((10, 3),)),
        Example({"output_size": 3}, ((7, 2),)),
        Example({"output_size": 5}, ((3, 2),)),
    )
