"""MaxPooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("MaxPooling2D", "MaxPool2D")
class MaxPooling2D(BasePooling):
    """Max over each window of an image (height, width, channels), `keras.layers.MaxPooling2D`."""

    rank = 2
    reduction = "max"
    examples = (
        Example({}, ((9, 8, 3),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((9, 8, 3),)),
        Example({"pool_size": [2, 3], "strides": 1}, ((9, 8, 3),)),
    )
