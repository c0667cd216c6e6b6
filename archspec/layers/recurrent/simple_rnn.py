"""SimpleRNN."""

from __future__ import annotations

from archspec.layers.base import Example
from archspec.layers.recurrent.base_rnn import BaseDenseRNN, recurrent_product
from archspec.layers.registry import register


@register("SimpleRNN")
class SimpleRNN(BaseDenseRNN):
    """Fully connected recurrence h = activation(x kernel + h recurrent_kernel + bias) over a
    sequence, `keras.layers.SimpleRNN`.

    Args:
        units: size of the state and of each step's output.
        activation: the cell's activation (tanh).

    Weights (Keras's layout): `simple_rnn_cell/kernel` (features, units),
    `simple_rnn_cell/recurrent_kernel` (units, units), `simple_rnn_cell/bias` (units).

    Input shape: (batch, time, features). Output shape: (batch, time, units) with
    return_sequences, else (batch, units).
    """

    cell_name = "simple_rnn_cell"
    gates = 1
    examples = (
        Example({"units": 4, "return_sequences": True, "go_backwards": True}, ((None, 3),), data_formats=("channels_last",)),
        Example({"units": 3, "activation": "hard_sigmoid", "bias_initializer": "uniform", "unroll": True}, ((5, 2),),
                data_formats=("channels_last",)),
    )

    def fused(self, module, x):
        from archspec.backends.torch.recurrence import fused

        if self.activation not in ("tanh", "relu"):
            return None
        params = [module.weight_ih, module.weight_hh]
        if self.use_bias:  # torch adds two biases, Keras has one
            params += [module.bias, module.bias.new_zeros(module.bias.shape)]
        return fused(f"rnn_{self.activation}", x, self.initial_states(module, x), params, self.use_bias)

    def prepare(self, module, x, dropout_on):
        from archspec.backends.torch.ops import activation

        act = activation(self.activation)
        projected = self.input_projection(module, x, dropout_on, module.bias if self.use_bias else None)
        masks = self.recurrent_masks(x, dropout_on)

        def step(states, projection):
            h = act(projection + recurrent_product(module.weight_hh, states[0], masks))
            return (h,), h

        return [projected], step
