"""Keras's Adam and RMSprop on an Embedding's table, in PyTorch.

Under TensorFlow, an Embedding's gradient is a `tf.IndexedSlices`: one row per id occurrence in
the batch, duplicates included. Keras's Adam and RMSprop square that gradient as it is
(`ops.square` on the slices) before it becomes dense, so a row's second moment takes the sum of
its occurrences' squared gradients, where PyTorch's dense gradient gives the square of their sum.
The first moment and the step itself take the summed gradient in both. This module records, per
Embedding table, the per-occurrence sum of squares for the optimizer (`KerasOptimizer`) to use.
"""

from __future__ import annotations

from functools import partial

import torch

ATTRIBUTE = "keras_squares"  # set on the table's Parameter during backward, cleared by the optimizer's step


def track_embedding_squares(model, spec) -> None:
    """Hook every trainable Embedding of an ArchspecModel so that backward records its squares."""
    for node in spec.nodes:
        if node.type == "Embedding" and node.trainable:
            module = model.layers[node.name]
            module.register_forward_hook(partial(_record, module.embeddings))


def _record(table: torch.nn.Parameter, module, inputs, output) -> None:
    if not (torch.is_grad_enabled() and output.requires_grad):
        return
    ids = inputs[0].reshape(-1).long()

    def add_squares(grad: torch.Tensor) -> None:
        rows = grad.reshape(-1, grad.shape[-1]).to(table.dtype)
        squares = torch.zeros_like(table).index_add_(0, ids, rows * rows)
        previous = getattr(table, ATTRIBUTE, None)  # a table used twice in one forward adds both
        setattr(table, ATTRIBUTE, squares if previous is None else previous + squares)

    output.register_hook(add_squares)


def squared_gradients(params: list[torch.Tensor], grads: list[torch.Tensor]) -> list[torch.Tensor] | None:
    """Each parameter's squared gradient as Keras's TensorFlow backend forms it, or None where no
    parameter is an Embedding table with recorded squares (then g * g is right for all); clears the record."""
    recorded = [getattr(p, ATTRIBUTE, None) for p in params]
    if all(r is None for r in recorded):
        return None
    for p in params:
        if getattr(p, ATTRIBUTE, None) is not None:
            setattr(p, ATTRIBUTE, None)
    return [g * g if r is None else r for g, r in zip(grads, recorded)]
