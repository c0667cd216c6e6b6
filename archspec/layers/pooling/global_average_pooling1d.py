"""GlobalAveragePooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalAveragePooling1D", "GlobalAvgPool1D")
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over every position of a sequence (steps, channels), `keras.layers.GlobalAveragePooling1D`."""

    rank = 1
    reduction = "mean"
    examples = (
        Example({}, ((9, 3),)),
        Example({"keepdims": True}, ((9, 3),)),
    )
