"""MaxPooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("MaxPooling3D", "MaxPool3D")
class MaxPooling3D(BasePooling):
    """Max over each window of a volume (depth, height, width, channels), `keras.layers.MaxPooling3D`."""

    rank = 3
    reduction = "max"
    examples = (
        Example({}, ((5, 6, 4, 2),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((5, 6, 4, 2),)),
    )
