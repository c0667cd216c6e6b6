"""GlobalAveragePooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalAveragePooling2D", "GlobalAvgPool2D")
class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over every position of an image (height, width, channels), `keras.layers.GlobalAveragePooling2D`."""

    rank = 2
    reduction = "mean"
    examples = (
        Example({}, ((9, 8, 3),)),
        Example({"keepdims": True}, ((9, 8, 3),)),
    )
