"""GlobalMaxPooling2D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalMaxPooling2D", "GlobalMaxPool2D")
class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over every position of an image (height, width, channels), `keras.layers.GlobalMaxPooling2D`."""

    rank = 2
    reduction = "max"
    examples = (
        Example({}, ((9, 8, 3),)),
        Example({"keepdims": True}, ((9, 8, 3),)),
    )
