"""What ConvLSTM1D, ConvLSTM2D and ConvLSTM3D share (Keras's `ConvLSTM`): the rank is a class attribute."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator

from archspec.activations import Activation
from archspec.initializers import UNIT_FORGET_BIAS, Initializer
from archspec.layers.base import (
    IntTuple, Padding, ShapeError, Weight, expand_tuple, fmt_shape, free_windows, image, require_rank, spatial,
    too_short, window_output,
)
from archspec.layers.convolutional.base_conv import kernel_to_torch
from archspec.layers.recurrent.base_rnn import BaseRNN


class BaseConvLSTM(BaseRNN):
    """An LSTM whose gates are convolutions, run over the time axis of a sequence of images.

    Args:
        filters: channels of the state and of each step's output.
        kernel_size, strides, dilation_rate: of the input convolution (one int, or one per axis);
            the recurrent convolution has the same window, stride 1 and 'same' padding.
        padding: of the input convolution, "valid" or "same" (TensorFlow's).
        activation (tanh), recurrent_activation (sigmoid), unit_forget_bias: as LSTM's.

    Weights (Keras's layout): `conv_lstm_cell/kernel` (*window, channels, 4 filters),
    `conv_lstm_cell/recurrent_kernel` (*window, filters, 4 filters), `conv_lstm_cell/bias`
    (4 filters); gates i, f, c, o.

    Input shape: (batch, time, *spatial, channels) for channels_last, (batch, time, channels,
    *spatial) otherwise. Output shape: (batch, time, *convolved spatial, filters) with
    return_sequences, else (batch, *convolved spatial, filters) (channels first likewise).
    """

    rank: ClassVar[int] = 2
    cell_name = "conv_lstm_cell"

    filters: int = Field(..., ge=1, strict=True, description="Channels of the state and of each step's output.")
    kernel_size: IntTuple = Field(..., description="Window of both convolutions: one int, or one per spatial axis.")
    strides: IntTuple = Field((1,), description="Step of the input convolution: one int, or one per spatial axis.")
    padding: Padding = Field("valid", description="Padding of the input convolution: valid or same (TensorFlow's).")
    dilation_rate: IntTuple = Field((1,), description="Dilation of the input convolution: one int, or one per axis.")
    activation: Activation = Field("tanh", description="Activation of the candidate and of the output.")
    recurrent_activation: Activation = Field("sigmoid", description="Activation of the gates.")
    use_bias: bool = Field(True, description="Add a learned bias.")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the input kernel.")
    recurrent_initializer: Initializer = Field("orthogonal", description="Initializer of the recurrent kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")
    unit_forget_bias: bool = Field(True, description="Start the forget gate's bias at 1 (with bias_initializer for the rest).")

    @model_validator(mode="after")
    def _expand(self):
        for key in ("kernel_size", "strides", "dilation_rate"):
            object.__setattr__(self, key, expand_tuple(getattr(self, key), self.rank, key))
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
        return self

    def _image_shape(self, input_shapes, data_format):
        shape = input_shapes[0]
        require_rank(shape, self.rank + 2, f"sequences of {self.rank}-D inputs with channels (batch, time, ...)")
        dims, channels = spatial(shape[1:], data_format)
        if None in dims or channels is None:
            raise ShapeError(f"needs fixed spatial sizes and channels, got {fmt_shape(shape)}")
        return dims, channels

    def step_shape(self, input_shapes, data_format):
        dims, _ = self._image_shape(input_shapes, data_format)
        free_windows(dims, self.strides, self.padding)
        out = tuple(window_output(n, k, s, self.padding, d)
                    for n, k, s, d in zip(dims, self.kernel_size, self.strides, self.dilation_rate))
        if too_short(out):
            raise ShapeError(f"kernel {'x'.join(map(str, self.kernel_size))} with padding 'valid' does not fit "
                             f"its input {fmt_shape(input_shapes[0])}")
        return image(out, self.filters, data_format)

    def weights(self, input_shapes, data_format):
        _, channels = self._image_shape(input_shapes, data_format)
        width = 4 * self.filters
        to_torch = kernel_to_torch(self.rank)
        weights = [
            Weight("conv_lstm_cell/kernel", (*self.kernel_size, channels, width), self.kernel_initializer,
                   torch_name="weight_ih", torch_permute=to_torch),
            Weight("conv_lstm_cell/recurrent_kernel", (*self.kernel_size, self.filters, width),
                   self.recurrent_initializer, torch_name="weight_hh", torch_permute=to_torch),
        ]
        if self.use_bias:
            initializer = UNIT_FORGET_BIAS + self.bias_initializer if self.unit_forget_bias else self.bias_initializer
            weights.append(Weight("conv_lstm_cell/bias", (width,), initializer, torch_name="bias"))
        return weights

    def macs(self, input_shapes, output_shape, data_format):
        _, channels = self._image_shape(input_shapes, data_format)
        out, _ = spatial(self.step_shape(input_shapes, data_format), data_format)
        steps = input_shapes[0][0]
        return steps * math.prod(out) * 4 * self.filters * math.prod(self.kernel_size) * (channels + self.filters)

    # --- PyTorch: (batch, time, channels, *spatial) inside, the spec's layout outside ---

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import ops

        dims, _ = self._image_shape(input_shapes, data_format)
        out, _ = spatial(self.step_shape(input_shapes, data_format), data_format)
        module.conv = ops.CONV[self.rank]
        module.in_padding, module.in_pad = (0,) * self.rank, None
        if self.padding == "same":
            module.in_padding, module.in_pad = ops.tf_same_padding(dims, self.kernel_size, self.strides,
                                                                   self.dilation_rate)
        module.rec_padding, module.rec_pad = ops.tf_same_padding(out, self.kernel_size, (1,) * self.rank)
        module.state_dims = tuple(out)
        # axis activations (softmax) act on the last axis of the state as Keras lays it out: its
        # channels (dim 1 of a step here) for channels_last
        module.activation_dim = 1 if data_format == "channels_last" else -1

    def torch_forward(self, module, x, mask=None):
        channels_last = module.data_format == "channels_last"
        if channels_last:  # (batch, time, *spatial, channels) -> (batch, time, channels, *spatial)
            x = x.permute(0, 1, x.dim() - 1, *range(2, x.dim() - 1))
        out = super().torch_forward(module, x, mask=mask)
        if channels_last:
            out = out.movedim(-self.rank - 1, -1)
        return out

    def initial_states(self, module, x):
        zeros = x.new_zeros(x.shape[0], self.filters, *module.state_dims)
        return zeros, zeros.clone()

    def prepare(self, module, x, dropout_on):
        import torch
        import torch.nn.functional as F

        from archspec.backends.torch.ops import activation
        from archspec.backends.torch.recurrence import dropout_masks

        act = activation(self.activation, module.activation_dim)
        gate = activation(self.recurrent_activation, module.activation_dim)
        batch, steps = x.shape[:2]
        bias = module.bias if self.use_bias else None

        def input_conv(inputs, kernel, b):
            flat = inputs.reshape(batch * steps, *inputs.shape[2:])
            if module.in_pad is not None:
                flat = F.pad(flat, module.in_pad)
            out = module.conv(flat, kernel, b, self.strides, module.in_padding, self.dilation_rate)
            return out.reshape(batch, steps, *out.shape[1:])

        if dropout_on and self.dropout > 0:  # Keras's ConvLSTM cell: one mask per gate
            masks = dropout_masks(x[:, 0], self.dropout, 4)
            kernels = module.weight_ih.chunk(4, 0)
            biases = bias.chunk(4, 0) if bias is not None else [None] * 4
            projected = torch.cat([input_conv(x * m[:, None], k, b) for m, k, b in zip(masks, kernels, biases)], 2)
        else:
            projected = input_conv(x, module.weight_ih, bias)
        rec_masks = None
        if dropout_on and self.recurrent_dropout > 0:
            rec_masks = dropout_masks(x.new_empty(batch, self.filters, *module.state_dims), self.recurrent_dropout, 4)

        def recurrent_conv(h):
            if rec_masks is None:
                return rec_conv(h, module.weight_hh)
            return torch.cat([rec_conv(h * m, k) for m, k in zip(rec_masks, module.weight_hh.chunk(4, 0))], 1)

        def rec_conv(h, kernel):
            if module.rec_pad is not None:
                h = F.pad(h, module.rec_pad)
            return module.conv(h, kernel, None, 1, module.rec_padding)

        def step(states, z):
            h, c = states
            i, f, g, o = (z + recurrent_conv(h)).chunk(4, dim=1)
            c = gate(f) * c + gate(i) * act(g)
            h = gate(o) * act(c)
            return (h, c), h

        return [projected], step
