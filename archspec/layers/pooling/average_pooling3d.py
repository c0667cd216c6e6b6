"""AveragePooling3D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("AveragePooling3D", "AvgPool3D")
class AveragePooling3D(BasePooling):
    """Mean over each window of a volume (depth, height, width, channels), `keras.layers.AveragePooling3D`.

    With padding 'same', padded values are not counted in the mean, as in Keras."""

    rank = 3
    reduction = "mean"
    examples = (
        Example({}, ((5, 6, 4, 2),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((5, 6, 4, 2),)),
    )
