"""Conv2D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv import BaseConv
from archspec.layers.registry import register


@register("Conv2D", "Convolution2D")
class Conv2D(BaseConv):
    """2-D convolution over an image (height, width, channels), `keras.layers.Conv2D`."""

    rank = 2
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((8, 8, 3),)),
        Example({"filters": 3, "kernel_size": [3, 2], "strides": 2, "padding": "same"}, ((9, 8, 2),)),
        Example({"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "activation": "softmax"},
                ((7, 7, 3),)),
        Example({"filters": 4, "kernel_size": 3, "groups": 2, "use_bias": False}, ((6, 6, 4),)),
    )
