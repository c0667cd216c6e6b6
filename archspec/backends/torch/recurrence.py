"""The time loop of the recurrent layers' PyTorch forwards (SimpleRNN, LSTM, GRU, ConvLSTM).

Three ways to run one recurrence, all computing Keras 3's function:

- torch's fused kernels (`torch.lstm`, `torch.gru`, `torch.rnn_tanh`, `torch.rnn_relu`) in
  eager mode, where the cell is one torch has (Keras's default activations, no mask, no
  dropout): the speed of `nn.LSTM`;
- a Python loop over the steps otherwise (masks, other activations, GRU reset_after=False,
  dropout, ConvLSTM);
- the `scan` higher-order op under `torch.export`: a Python loop would freeze the number of
  steps into the exported graph, scan keeps the time axis symbolic (torch.onnx writes it as
  ONNX Scan), so the file is right at every length.

A mask follows Keras's `backend.rnn`: at a masked step the states are carried over unchanged
and the output is the previous step's (zeros with `zero_output_for_mask`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from archspec.errors import ArchspecError

Tensor = torch.Tensor
States = tuple[Tensor, ...]
Step = Callable[..., tuple[States, Tensor]]


def exporting() -> bool:
    return torch.compiler.is_exporting()


def refuse_tracing(layer_name: str, free_time: bool) -> None:
    """The TorchScript tracer (the ONNX exporter below opset 18) unrolls a Python loop over the
    steps it sees: the file would be right at one length only."""
    if free_time and torch.jit.is_tracing():
        raise ArchspecError(f"{layer_name}: the TorchScript exporter (opset below 18) would fix the sequence "
                            "length of this recurrent layer; export with opset 18 or above")


def recur(step: Step, states: States, inputs: Sequence[Tensor], mask: Tensor | None = None,
          zero_output_for_mask: bool = False, all_outputs: bool = True) -> tuple[Tensor, Tensor]:
    """Run `step(states, *inputs_t) -> (new states, output)` over dim 0 (time) of every tensor
    in `inputs`, from `states`; the step's output must equal its first new state (every Keras
    cell's does). `mask`: (time, batch) booleans. Returns (outputs stacked on dim 0, or None
    unless `all_outputs`; the last step's output)."""
    if mask is not None:
        step = _masked(step, zero_output_for_mask)
        inputs = (*inputs, mask)
    if exporting():
        from torch._higher_order_ops.scan import scan

        def combine(carry, xs):
            new, out = step(tuple(carry), *xs)
            # scan's outputs may not alias its carry
            return list(new), out.clone()

        # an exported graph is for inference: without grad mode, scan skips tracing its backward
        with torch.no_grad():
            _, outputs = scan(combine, list(states), list(inputs))
        return outputs, outputs[-1]
    outputs = []
    out = None
    for xs in zip(*(t.unbind(0) for t in inputs)):
        states, out = step(states, *xs)
        if all_outputs:
            outputs.append(out)
    return (torch.stack(outputs) if all_outputs else None), out


def _masked(step: Step, zero_output: bool) -> Step:
    def masked_step(states, *xs):
        *xs, keep = xs
        new, out = step(states, *xs)
        keep = keep.view(-1, *([1] * (out.dim() - 1)))
        new = tuple(torch.where(keep, n, s) for n, s in zip(new, states))
        out = torch.where(keep, out, torch.zeros_like(out)) if zero_output else new[0]
        return new, out

    return masked_step


def fused(kind: str, x: Tensor, states: States, params: list[Tensor], has_biases: bool) -> tuple[Tensor, Tensor]:
    """torch's one-layer kernel `kind` (lstm, gru, rnn_tanh, rnn_relu) on x (batch, time, features),
    params in torch's gate order. Returns (outputs (batch, time, units), last output)."""
    if kind == "lstm":
        outputs, h, _ = torch.lstm(x, [s.unsqueeze(0) for s in states], params, has_biases, 1, 0.0, False, False, True)
    else:
        function = {"gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}[kind]
        outputs, h = function(x, states[0].unsqueeze(0), params, has_biases, 1, 0.0, False, False, True)
    return outputs, h[0]


def dropout_masks(like: Tensor, rate: float, count: int) -> list[Tensor]:
    """Keras's DropoutRNNCell masks: `count` draws of kept/(1 - rate) in the shape of one step,
    each used at every step of the sequence."""
    return [(torch.rand_like(like) >= rate).to(like.dtype) / (1.0 - rate) for _ in range(count)]
