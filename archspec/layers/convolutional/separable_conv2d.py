"""SeparableConv2D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_separable_conv import BaseSeparableConv
from archspec.layers.registry import register


@register("SeparableConv2D", "SeparableConvolution2D")
class SeparableConv2D(BaseSeparableConv):
    """2-D depthwise separable convolution over an image (height, width, channels), `keras.layers.SeparableConv2D`."""

    rank = 2
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((7, 7, 3),)),
        Example({"filters": 3, "kernel_size": [3, 2], "strides": 2, "padding": "same", "depth_multiplier": 2},
                ((9, 8, 2),)),
        Example({"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "use_bias": False},
                ((7, 8, 3),)),
        Example({"filters": 3, "kernel_size": 3, "strides": 2, "dilation_rate": [2, 1], "padding": "valid"},
                ((10, 9, 2),)),
    )
