"""GlobalMaxPooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalMaxPooling3D", "GlobalMaxPool3D")
class GlobalMaxPooling3D(BaseGlobalPooling):
    """Max over every position of a volume (depth, height, width, channels), `keras.layers.GlobalMaxPooling3D`."""

    rank = 3
    reduction = "max"
    examples = (
        Example({}, ((5, 6, 4, 2),)),
        Example({"keepdims": True}, ((5, 6, 4, 2),)),
    )
