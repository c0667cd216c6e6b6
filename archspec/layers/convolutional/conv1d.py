"""Conv1D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv import BaseConv
from archspec.layers.registry import register


@register("Conv1D", "Convolution1D")
class Conv1D(BaseConv):
    """1-D convolution over a sequence (steps, channels), `keras.layers.Conv1D`; padding may be causal."""

    rank = 1
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((10, 3),)),
        Example({"filters": 3, "kernel_size": 3, "padding": "same"}, ((None, 4),), data_formats=("channels_last",)),
        Example({"filters": 2, "kernel_size": 3, "padding": "causal"}, ((None, 3),), data_formats=("channels_last",)),
        Example({"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, ((11, 2),)),
        Example({"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, ((9, 3),),
                data_formats=("channels_last",)),
        Example({"filters": 4, "kernel_size": 2, "groups": 2, "use_bias": False}, ((7, 4),)),
    )
