"""GlobalMaxPooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalMaxPooling1D", "GlobalMaxPool1D")
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over every position of a sequence (steps, channels), `keras.layers.GlobalMaxPooling1D`."""

    rank = 1
    reduction = "max"
    examples = (
        Example({}, ((9, 3),)),
        Example({"keepdims": True}, ((9, 3),)),
    )
