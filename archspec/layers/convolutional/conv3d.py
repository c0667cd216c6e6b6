"""Conv3D."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv import BaseConv
from archspec.layers.registry import register


@register("Conv3D", "Convolution3D")
class Conv3D(BaseConv):
    """3-D convolution over a volume (depth, height, width, channels), `keras.layers.Conv3D`."""

    rank = 3
    examples = (
        Example({"filters": 3, "kernel_size": 2, "activation": "tanh"}, ((5, 6, 4, 2),),
                data_formats=("channels_last",)),
        Example({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, ((5, 5, 6, 3),),
                data_formats=("channels_last",)),
        Example({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, ((5, 5, 6, 3),),
                data_formats=("channels_first",), keras_gradient=False,
                note="TensorFlow's CPU gradient of a channels_first Conv3D is wrong (its forward is right)"),
    )
