"""GlobalAveragePooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalAveragePooling3D", "GlobalAvgPool3D")
class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over every position of a volume (depth, height, width, channels), `keras.layers.GlobalAveragePooling3D`."""

    rank = 3
    reduction = "mean"
    examples = (
        Example({}, ((5, 6, 4, 2),)),
        Example({"keepdims": True}, ((5, 6, 4, 2),)),
    )
