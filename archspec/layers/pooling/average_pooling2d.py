"""AveragePooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("AveragePooling2D", "AvgPool2D")
class AveragePooling2D(BasePooling):
    """Mean over each window of an image (height, width, channels), `keras.layers.AveragePooling2D`.

    With padding 'same', padded values are not counted in the mean, as in Keras."""

    rank = 2
    reduction = "mean"
    examples = (
        Example({}, ((9, 8, 3),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((9, 8, 3),)),
        Example({"pool_size": [2, 3], "strides": 1}, ((9, 8, 3),)),
    )
