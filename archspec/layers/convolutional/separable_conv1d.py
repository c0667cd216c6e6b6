"""SeparableConv1D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_separable_conv import BaseSeparableConv
from archspec.layers.registry import register


@register("SeparableConv1D", "SeparableConvolution1D")
class SeparableConv1D(BaseSeparableConv):
    """1-D depthwise separable convolution over a sequence (steps, channels), `keras.layers.SeparableConv1D`."""

    rank = 1
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((10, 3),)),
        Example({"filters": 3, "kernel_size": 3, "padding": "same"}, ((None, 2),), data_formats=("channels_last",)),
        Example({"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same", "depth_multiplier": 2}, ((11, 2),)),
        Example({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": "same",
                 "use_bias": False}, ((12, 3),)),
    )
