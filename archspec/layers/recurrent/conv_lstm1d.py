"""ConvLSTM1D."""

from __future__ import annotations

from archspec.layers.base import Example
from archspec.layers.recurrent.base_conv_lstm import BaseConvLSTM
from archspec.layers.registry import register


@register("ConvLSTM1D")
class ConvLSTM1D(BaseConvLSTM):
    """LSTM with 1-D convolutional gates over a sequence of 1-D inputs, `keras.layers.ConvLSTM1D`."""

    rank = 1
    examples = (
        Example({"filters": 2, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "return_sequences": True,
                 "go_backwards": True}, ((None, 8, 2),), data_formats=("channels_last",)),
        Example({"filters": 2, "kernel_size": 2, "strides": 2, "activation": "relu", "recurrent_activation": "hard_sigmoid",
                 "unit_forget_bias": False, "bias_initializer": "uniform"}, ((4, 7, 3),), data_formats=("channels_last",)),
    )
