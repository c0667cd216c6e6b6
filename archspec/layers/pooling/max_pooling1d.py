"""MaxPooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("MaxPooling1D", "MaxPool1D")
class MaxPooling1D(BasePooling):
    """Max over each window of a sequence (steps, channels), `keras.layers.MaxPooling1D`."""

    rank = 1
    reduction = "max"
    examples = (
        Example({}, ((9, 3),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((9, 3),)),
    )
