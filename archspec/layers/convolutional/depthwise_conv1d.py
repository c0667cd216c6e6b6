"""DepthwiseConv1D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_depthwise_conv import BaseDepthwiseConv
from archspec.layers.registry import register


@register("DepthwiseConv1D")
class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution over a sequence (steps, channels), `keras.layers.DepthwiseConv1D`."""

    rank = 1
    examples = (
        Example({"kernel_size": 3, "activation": "relu"}, ((10, 3),)),
        Example({"kernel_size": 4, "strides": 2, "padding": "same", "depth_multiplier": 2}, ((11, 2),)),
        Example({"kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": "same", "use_bias": False},
                ((12, 3),)),
    )
