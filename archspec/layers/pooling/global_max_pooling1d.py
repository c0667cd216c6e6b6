"""GlobalMaxPooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalMaxPooling1D", "GlobalMaxPool1D")
class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over every position of a sequence (steps, channels), `keras.layers.GlobalMaxPooling1D`."""

    rank = 1
    reduction = "max"
    # Keras 3.15's GlobalMaxPooling1D ignores a mask (its call takes none): max over every step
    examples = (
        Example({}, ((9, 3),)),
        Example({}, ((None, 3),)),
        Example({"keepdims": True}, ((9, 3),)),
    )
