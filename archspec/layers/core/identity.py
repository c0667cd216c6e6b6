"""Identity."""

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("Identity")
class Identity(Layer):
    """Returns its input unchanged, `keras.layers.Identity`. Input and output shape: any, the same."""

    examples = (Example({}, ((3, 4),)),)
