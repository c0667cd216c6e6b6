"""Conv2DTranspose."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv_transpose import BaseConvTranspose
from archspec.layers.registry import register


@register("Conv2DTranspose", "Convolution2DTranspose")
class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution over an image (height, width, channels), `keras.layers.Conv2DTranspose`."""

    rank = 2
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((5, 4, 3),)),
        Example({"filters": 3, "kernel_size": [3, 4], "strides": 2, "padding": "same"}, ((4, 5, 2),)),
        Example({"filters": 2, "kernel_size": 3, "strides": [2, 3], "output_padding": [1, 2], "use_bias": False},
                ((4, 3, 3),), onnx_keras=False,
                note="tf2onnx writes ConvTranspose pads = full length - output length, negative (an invalid "
                     "model) when output_padding makes the output longer than the full transposed convolution"),
        Example({"filters": 2, "kernel_size": 2, "dilation_rate": [2, 1], "padding": "same"}, ((5, 5, 2),)),
    )
