"""Conv3DTranspose."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv_transpose import BaseConvTranspose
from archspec.layers.registry import register


@register("Conv3DTranspose", "Convolution3DTranspose")
class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over a volume (depth, height, width, channels), `keras.layers.Conv3DTranspose`."""

    rank = 3
    examples = (
        Example({"filters": 2, "kernel_size": 2, "activation": "tanh"}, ((3, 4, 3, 2),)),
        Example({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": [1, 0, 1]},
                ((3, 2, 3, 3),)),
        Example({"filters": 3, "kernel_size": [2, 3, 2], "strides": [1, 2, 2], "use_bias": False}, ((2, 3, 3, 2),)),
        Example({"filters": 2, "kernel_size": 2, "dilation_rate": [1, 2, 1], "padding": "same"}, ((3, 4, 3, 2),)),
    )
