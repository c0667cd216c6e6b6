"""DepthwiseConv2D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
from archspec.layers.registry import register


@register("DepthwiseConv2D")
class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution over an image (height, width, channels), `keras.layers.DepthwiseConv2D`."""

    rank = 2
    examples = (
        Example({"kernel_size": 3, "depth_multiplier": 2, "activation": "relu"}, ((7, 7, 3),)),
        Example({"kernel_size": [3, 2], "strides": 2, "padding": "same"}, ((9, 8, 2),)),
        Example({"kernel_size": 3, "padding": "same", "dilation_rate": [2, 1], "depth_multiplier": 3,
                 "use_bias": False}, ((6, 7, 2),)),
        Example({"kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": "same"}, ((9, 10, 3),)),
    )
