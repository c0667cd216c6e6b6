"""AveragePooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BasePooling
from archspec.layers.registry import register


@register("AveragePooling1D", "AvgPool1D")
class AveragePooling1D(BasePooling):
    """Mean over each window of a sequence (steps, channels), `keras.layers.AveragePooling1D`.

    With padding 'same', padded values are not counted in the mean, as in Keras."""

    rank = 1
    reduction = "mean"
    examples = (
        Example({}, ((9, 3),)),
        Example({"pool_size": 3, "strides": 2, "padding": "same"}, ((9, 3),)),
    )
