"""ConvLSTM3D."""

from __future__ import annotations

from archspec.layers.base import Example
from archspec.layers.recurrent.base_conv_lstm import BaseConvLSTM
from archspec.layers.registry import register


@register("ConvLSTM3D")
class ConvLSTM3D(BaseConvLSTM):
    """LSTM with 3-D convolutional gates over a sequence of 3-D inputs, `keras.layers.ConvLSTM3D`."""

    rank = 3
    examples = (
        Example({"filters": 2, "kernel_size": 2, "padding": "same", "return_sequences": True}, ((None, 3, 4, 3, 2),),
                data_formats=("channels_last",)),
    )
