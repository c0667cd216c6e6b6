"""LSTM."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.activations import Activation
from archspec.initializers import UNIT_FORGET_BIAS
from archspec.layers.base import Example, Weight
from archspec.layers.recurrent.base_rnn import BaseDenseRNN, recurrent_product
from archspec.layers.registry import register


@register("LSTM")
class LSTM(BaseDenseRNN):
    """Long short-term memory over a sequence, `keras.layers.LSTM`.

    Args:
        units: size of the state and of each step's output.
        activation: of the candidate and of the output (tanh); recurrent_activation: of the
            gates (sigmoid).
        unit_forget_bias: the forget gate's bias starts at 1 (Keras's default).

    Weights (Keras's layout): `lstm_cell/kernel` (features, 4 units), `lstm_cell/recurrent_kernel`
    (units, 4 units), `lstm_cell/bias` (4 units), gates in Keras's order i, f, c, o (torch's
    i, f, g, o: the same order).

    Input shape: (batch, time, features). Output shape: (batch, time, units) with
    return_sequences, else (batch, units).
    """

    cell_name = "lstm_cell"
    gates = 4
    examples = (
        Example({"units": 4}, ((None, 3),), data_formats=("channels_last",)),
        Example({"units": 2, "activation": "relu", "recurrent_activation": "hard_sigmoid", "return_sequences": True,
                 "go_backwards": True, "unit_forget_bias": False, "bias_initializer": "uniform"}, ((None, 4),),
                data_formats=("channels_last",)),
        Example({"units": 3, "use_bias": False, "unroll": True}, ((5, 2),), data_formats=("channels_last",)),
    )

    recurrent_activation: Activation = Field("sigmoid", description="Activation of the gates.")
    unit_forget_bias: bool = Field(True, description="Start the forget gate's bias at 1 (with bias_initializer for the rest).")
    use_cudnn: Literal["auto"] | bool = Field("auto", description="Keras's cuDNN choice on GPUs; the same function.")

    def bias_weight(self, width: int) -> Weight:
        initializer = UNIT_FORGET_BIAS + self.bias_initializer if self.unit_forget_bias else self.bias_initializer
        return Weight("lstm_cell/bias", (width,), initializer, torch_name="bias")

    def initial_states(self, module, x):
        zeros = x.new_zeros(x.shape[0], self.units)
        return zeros, zeros.clone()

    def fused(self, module, x):
        from archspec.backends.torch.recurrence import fused

        if (self.activation, self.recurrent_activation) != ("tanh", "sigmoid"):
            return None
        params = [module.weight_ih, module.weight_hh]
        if self.use_bias:  # torch adds two biases, Keras has one
            params += [module.bias, module.bias.new_zeros(module.bias.shape)]
        return fused("lstm", x, self.initial_states(module, x), params, self.use_bias)

    def prepare(self, module, x, dropout_on):
        from archspec.backends.torch.ops import activation

        act, gate = activation(self.activation), activation(self.recurrent_activation)
        projected = self.input_projection(module, x, dropout_on, module.bias if self.use_bias else None)
        masks = self.recurrent_masks(x, dropout_on)

        def step(states, z):
            h, c = states
            i, f, g, o = (z + recurrent_product(module.weight_hh, h, masks)).chunk(4, dim=1)
            c = gate(f) * c + gate(i) * act(g)
            h = gate(o) * act(c)
            return (h, c), h

        return [projected], step
