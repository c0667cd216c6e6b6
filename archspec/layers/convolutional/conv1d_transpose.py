"""Conv1DTranspose."""

from archspec.layers.base import Example
from archspec.layers.convolutional.base_conv_transpose import BaseConvTranspose
from archspec.layers.registry import register

# outputs that are not the full transposed convolution: cropped ('same') or longer (strides > kernel)
_RESIZED = (
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, ((7, 2),)),
    ({"filters": 2, "kernel_size": 2, "strides": 3, "use_bias": False}, ((5, 3),)),
    ({"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same", "output_padding": 2}, ((5, 2),)),
)


@register("Conv1DTranspose", "Convolution1DTranspose")
class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution over a sequence (steps, channels), `keras.layers.Conv1DTranspose`."""

    rank = 1
    examples = (
        Example({"filters": 4, "kernel_size": 3, "activation": "relu"}, ((7, 3),)),
        Example({"filters": 2, "kernel_size": 3, "dilation_rate": 2}, ((6, 2),)),
        *(Example(config, inputs, data_formats=("channels_last",)) for config, inputs in _RESIZED),
        *(Example(config, inputs, data_formats=("channels_first",), onnx_keras=False,
                  note="tf2onnx's Conv2DBackpropInput with a non-constant output shape slices the spatial "
                       "axes as if NHWC: a channels_first Conv1DTranspose whose output is not the full "
                       "transposed convolution comes out with the wrong length")
          for config, inputs in _RESIZED),
    )
