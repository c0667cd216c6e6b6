"""Identity."""

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("Identity")
class Identity(Layer):
    """Returns its input unchanged, `keras.layers.Identity`. Input and output shape: any, the same."""

    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({}, ((3, 4),)),)
