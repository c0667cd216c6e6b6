"""What every recurrent layer shares (Keras's `RNN` around a cell): the sequence options, masks,
dropout, the refusals, and the PyTorch time loop (`archspec/backends/torch/recurrence.py`).

A subclass says how its cell starts (`initial_states`), what it computes once for the whole
sequence (`prepare`: e.g. the input projection of every step) and one step (the closure that
`prepare` returns); where torch has the same cell as a fused kernel, `fused` runs it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from archspec.activations import Activation
from archspec.initializers import Initializer
from archspec.layers.base import Layer, ShapeError, Weight, fmt_shape, require_rank


class BaseRNN(Layer):
    """A recurrent layer: a cell run over the time axis (axis 1) of its input.

    Args:
        return_sequences: output every step's output (batch, time, ...) instead of the last one.
        go_backwards: run over the sequence from its end; with return_sequences the outputs are
            in that (reversed) order, as in Keras.
        dropout, recurrent_dropout: fractions of the inputs / of the recurrent state dropped
            while training, one draw per sequence (Keras's DropoutRNNCell).
        unroll: Keras unrolls the loop (needs a fixed length); the same numbers.
        zero_output_for_mask: zeros instead of the previous output at masked steps (what
            Bidirectional sets when it returns sequences).

    A mask arriving with the input (Embedding mask_zero, Masking) makes the layer skip the masked
    steps: the state is carried over, so a right-padded sequence gives the unpadded result.
    """

    cell_name: ClassVar[str] = ""  # Keras's cell name: the weights are <cell_name>/kernel, ...
    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking; the mask goes on with return_sequences only
    uses_mask = True

    return_sequences: bool = Field(False, description="Output every step (batch, time, ...) instead of the last.")
    return_state: bool = Field(False, description="Not available: a spec layer has one output tensor.")
    go_backwards: bool = Field(False, description="Process the sequence from its end (outputs in that order).")
    stateful: bool = Field(False, description="Not available: states are not kept between batches.")
    unroll: bool = Field(False, description="Keras unrolls the time loop (needs a fixed length); same numbers.")
    zero_output_for_mask: bool = Field(False, description="Zeros instead of the previous output at masked steps.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the inputs dropped while training.")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="Fraction of the recurrent state dropped while training.")
    seed: int | None = Field(None, description="Seed of Keras's dropout draws (PyTorch draws from its own generator).")

    @field_validator("return_state")
    @classmethod
    def _one_output(cls, value: bool) -> bool:
        if value:
            raise ValueError("return_state is not available: a spec layer has one output tensor "
                             "(use return_sequences, or the last output)")
        return value

    @field_validator("stateful")
    @classmethod
    def _stateless(cls, value: bool) -> bool:
        if value:
            raise ValueError("stateful is not available: archspec models keep no state between batches")
        return value

    @property
    def activation_name(self) -> str:
        return "linear"  # `activation` is the cell's, applied inside the recurrence

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.dropout > 0 or self.recurrent_dropout > 0

    def time_steps(self, shape) -> int | None:
        if self.unroll and shape[0] is None:
            raise ShapeError(f"unroll needs a fixed number of time steps, but the input {fmt_shape(shape)} "
                             "has a free time axis (None)")
        return shape[0]

    def step_shape(self, input_shapes, data_format) -> tuple:
        """The per-step output shape (batch and time excluded)."""
        raise NotImplementedError

    def output_shape(self, input_shapes, data_format):
        steps = self.time_steps(input_shapes[0])
        step = self.step_shape(input_shapes, data_format)
        return (steps, *step) if self.return_sequences else tuple(step)

    # --- PyTorch ---

    def initial_states(self, module, x) -> tuple:
        raise NotImplementedError

    def prepare(self, module, x, dropout_on: bool):
        """(per-step inputs as (batch, time, ...) tensors, step function) for sequence x."""
        raise NotImplementedError

    def fused(self, module, x):
        """(outputs, last output) from torch's fused kernel, or None where torch has no such cell."""
        return None

    def torch_forward(self, module, x, mask=None):
        import torch

        from archspec.backends.torch import recurrence

        recurrence.refuse_tracing(f"{self.type_name} '{self.name}'", module.input_shapes[0][0] is None)
        dropout_on = module.training and (self.dropout > 0 or self.recurrent_dropout > 0)
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        if mask is None and not dropout_on and not recurrence.exporting():
            result = self.fused(module, x)
            if result is not None:
                outputs, last = result
                return outputs if self.return_sequences else last
        inputs, step = self.prepare(module, x, dropout_on)
        inputs = [t.transpose(0, 1) for t in inputs]
        if mask is not None:
            mask = mask.transpose(0, 1).to(torch.bool)
        outputs, last = recurrence.recur(step, self.initial_states(module, x), inputs, mask,
                                         self.zero_output_for_mask, self.return_sequences)
        return outputs.transpose(0, 1) if self.return_sequences else last

    def torch_mask(self, module, inputs, masks):
        return masks[0] if self.return_sequences else None

    # --- Keras ---

    def keras_layer(self, data_format, name):
        from archspec.backends.keras.layers import activation, keras_class, keras_kwargs

        cls = keras_class(self.type_name)
        kwargs = keras_kwargs(self, data_format, cls)
        if "recurrent_activation" in kwargs:
            kwargs["recurrent_activation"] = activation(kwargs["recurrent_activation"])
        return cls(**kwargs, name=name)


class BaseDenseRNN(BaseRNN):
    """SimpleRNN, LSTM, GRU: a cell of `units` with a dense kernel, `gates` blocks of units wide.

    Args:
        units: size of the state and of each step's output.
        activation: the cell's activation (tanh).
        use_bias: add the learned bias.

    Input shape: (batch, time, features). Output shape: (batch, time, units) with
    return_sequences, else (batch, units).
    """

    gates: ClassVar[int] = 1

    units: int = Field(..., ge=1, strict=True, description="Size of the state and of each step's output.")
    activation: Activation = Field("tanh", description="The cell's activation.")
    use_bias: bool = Field(True, description="Add a learned bias.")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the input kernel.")
    recurrent_initializer: Initializer = Field("orthogonal", description="Initializer of the recurrent kernel.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the bias.")

    def output_shape(self, input_shapes, data_format):
        shape = input_shapes[0]
        require_rank(shape, 2, "sequences (batch, time, features)")
        if shape[1] is None:
            raise ShapeError(f"needs a fixed number of features (the last axis), got {fmt_shape(shape)}")
        return super().output_shape(input_shapes, data_format)

    def step_shape(self, input_shapes, data_format):
        return (self.units,)

    def bias_weight(self, width: int) -> Weight:
        return Weight(f"{self.cell_name}/bias", (width,), self.bias_initializer, torch_name="bias")

    def weights(self, input_shapes, data_format):
        width = self.gates * self.units
        # PyTorch holds the kernels transposed, torch's weight_ih/weight_hh, in Keras's gate order
        weights = [
            Weight(f"{self.cell_name}/kernel", (input_shapes[0][-1], width), self.kernel_initializer,
                   torch_name="weight_ih", torch_permute=(1, 0)),
            Weight(f"{self.cell_name}/recurrent_kernel", (self.units, width), self.recurrent_initializer,
                   torch_name="weight_hh", torch_permute=(1, 0)),
        ]
        return [*weights, self.bias_weight(width)] if self.use_bias else weights

    def macs(self, input_shapes, output_shape, data_format):
        steps, features = input_shapes[0]
        return steps * (features + self.units) * self.gates * self.units

    def initial_states(self, module, x):
        return (x.new_zeros(x.shape[0], self.units),)

    def input_projection(self, module, x, dropout_on: bool, bias):
        """x @ kernel + bias for every step: (batch, time, gates * units). With input dropout the
        gates get one mask each where Keras's cell splits its kernel (implementation 1: when
        recurrent_dropout is set), else one mask for all."""
        import torch
        import torch.nn.functional as F

        from archspec.backends.torch.recurrence import dropout_masks

        if not (dropout_on and self.dropout > 0):
            return F.linear(x, module.weight_ih, bias)
        per_gate = self.recurrent_dropout > 0
        masks = dropout_masks(x[:, 0], self.dropout, self.gates if per_gate else 1)
        if not per_gate:
            return F.linear(x * masks[0][:, None], module.weight_ih, bias)
        kernels = module.weight_ih.chunk(self.gates, 0)
        biases = bias.chunk(self.gates, 0) if bias is not None else [None] * self.gates
        return torch.cat([F.linear(x * m[:, None], k, b) for m, k, b in zip(masks, kernels, biases)], dim=-1)

    def recurrent_masks(self, x, dropout_on: bool):
        """One recurrent dropout mask per gate (Keras's implementation 1), or None."""
        from archspec.backends.torch.recurrence import dropout_masks

        if not (dropout_on and self.recurrent_dropout > 0):
            return None
        return dropout_masks(x.new_empty(x.shape[0], self.units), self.recurrent_dropout, self.gates)


def recurrent_product(kernel, h, masks, bias=None):
    """h @ kernel (+ bias) for a recurrent kernel in torch's layout (gates * units, units), each
    gate's block from its own dropped-out h when `masks`."""
    import torch
    import torch.nn.functional as F

    if masks is None:
        return F.linear(h, kernel, bias)
    kernels = kernel.chunk(len(masks), 0)
    biases = bias.chunk(len(masks), 0) if bias is not None else [None] * len(masks)
    return torch.cat([F.linear(h * m, k, b) for m, k, b in zip(masks, kernels, biases)], dim=-1)
