"""ConvLSTM2D."""

from __future__ import annotations

from archspec.layers.base import Example
from archspec.layers.recurrent.base_conv_lstm import BaseConvLSTM
from archspec.layers.registry import register


@register("ConvLSTM2D")
class ConvLSTM2D(BaseConvLSTM):
    """LSTM with 2-D convolutional gates over a sequence of 2-D inputs, `keras.layers.ConvLSTM2D`."""

    rank = 2
    examples = (
        Example({"filters": 3, "kernel_size": 3, "padding": "same"}, ((None, 5, 4, 2),), data_formats=("channels_last",)),
        Example({"filters": 2, "kernel_size": [2, 3], "strides": [2, 1], "return_sequences": True,
                 "go_backwards": True, "use_bias": False}, ((4, 6, 5, 3),), data_formats=("channels_last",)),
    )
