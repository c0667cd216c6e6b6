"""GRU."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.activations import Activation
from archspec.layers.base import Example, Weight
from archspec.layers.recurrent.base_rnn import BaseDenseRNN, recurrent_product
from archspec.layers.registry import register


@register("GRU")
class GRU(BaseDenseRNN):
    """Gated recurrent unit over a sequence, `keras.layers.GRU`.

    Args:
        units: size of the state and of each step's output.
        activation: of the candidate (tanh); recurrent_activation: of the gates (sigmoid).
        reset_after: apply the reset gate after the recurrent product (Keras 3's and torch's
            GRU, with a second, recurrent bias) rather than before it.

    Weights (Keras's layout): `gru_cell/kernel` (features, 3 units), `gru_cell/recurrent_kernel`
    (units, 3 units), `gru_cell/bias` (2, 3 units) with reset_after (input and recurrent bias),
    else (3 units); gates in Keras's order z, r, h (torch's is r, z, n).

    Input shape: (batch, time, features). Output shape: (batch, time, units) with
    return_sequences, else (batch, units).
    """

    cell_name = "gru_cell"
    gates = 3
    examples = (
        Example({"units": 4, "return_sequences": True, "bias_initializer": "normal"}, ((None, 3),), data_formats=("channels_last",)),
        Example({"units": 3, "reset_after": False, "activation": "relu", "recurrent_activation": "hard_sigmoid",
                 "go_backwards": True, "bias_initializer": "uniform"}, ((None, 2),), data_formats=("channels_last",)),
        Example({"units": 2, "use_bias": False, "unroll": True, "go_backwards": True}, ((4, 3),), data_formats=("channels_last",)),
    )

    recurrent_activation: Activation = Field("sigmoid", description="Activation of the update and reset gates.")
    reset_after: bool = Field(True, description="Reset gate after the recurrent product (two biases), as torch's GRU.")
    use_cudnn: Literal["auto"] | bool = Field("auto", description="Keras's cuDNN choice on GPUs; the same function.")

    def bias_weight(self, width: int) -> Weight:
        shape = (2, width) if self.reset_after else (width,)
        return Weight("gru_cell/bias", shape, self.bias_initializer, torch_name="bias")

    def _biases(self, module):
        """(input bias, recurrent bias): the rows of the (2, 3 units) bias with reset_after."""
        if not self.use_bias:
            return None, None
        return (module.bias[0], module.bias[1]) if self.reset_after else (module.bias, None)

    def fused(self, module, x):
        import torch

        from archspec.backends.torch.recurrence import fused

        if not self.reset_after or (self.activation, self.recurrent_activation) != ("tanh", "sigmoid"):
            return None

        def torch_order(tensor):  # Keras's z, r, h blocks -> torch's r, z, n
            z, r, h = tensor.chunk(3, 0)
            return torch.cat([r, z, h])

        params = [torch_order(module.weight_ih), torch_order(module.weight_hh)]
        if self.use_bias:
            params += [torch_order(b) for b in self._biases(module)]
        return fused("gru", x, self.initial_states(module, x), params, self.use_bias)

    def prepare(self, module, x, dropout_on):
        import torch.nn.functional as F

        from archspec.backends.torch.ops import activation

        act, gate = activation(self.activation), activation(self.recurrent_activation)
        input_bias, recurrent_bias = self._biases(module)
        projected = self.input_projection(module, x, dropout_on, input_bias)
        masks = self.recurrent_masks(x, dropout_on)
        units = self.units

        def step(states, projection):
            (h,) = states
            x_z, x_r, x_h = projection.chunk(3, dim=1)
            if self.reset_after:
                r_z, r_r, r_h = recurrent_product(module.weight_hh, h, masks, recurrent_bias).chunk(3, dim=1)
                z, r = gate(x_z + r_z), gate(x_r + r_r)
                candidate = act(x_h + r * r_h)
            else:
                zr_kernel, h_kernel = module.weight_hh[: 2 * units], module.weight_hh[2 * units:]
                r_z, r_r = recurrent_product(zr_kernel, h, masks[:2] if masks else None).chunk(2, dim=1)
                z, r = gate(x_z + r_z), gate(x_r + r_r)
                h_h = h * masks[2] if masks else h
                candidate = act(x_h + F.linear(r * h_h, h_kernel))
            h = z * h + (1 - z) * candidate
            return (h,), h

        return [projected], step

