"""What Attention and AdditiveAttention share (Keras's AdditiveAttention subclasses Attention):
inputs, masks, the causal mask, softmax, dropout and the weighted sum of the values."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field

from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, fmt_shape

# the amount keras.layers.Attention subtracts from masked scores (float32)
MASKED_SCORE = 1e9


class BaseAttention(Layer):
    """Attention without projections over `[query, value(, key)]`; subclasses give the scores."""

    min_inputs = 2
    max_inputs = 3
    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras's compute_mask: the query's mask
    uses_mask = True
    masks_per_input: ClassVar[bool] = True  # torch_forward gets [query's, value's, key's] masks
    # the scores are a dot product of query and key (counted as MACs)
    dot_scores: ClassVar[bool] = False

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate on the attention probabilities (training only).")
    use_causal_mask: bool = Field(False, description="A query step attends to no later step (Keras's call flag).")
    seed: int | None = Field(None, description="Seed of Keras's dropout draws.")

    @property
    def stochastic(self) -> bool:
        return self.dropout > 0

    def _shapes(self, input_shapes: list[Shape]) -> tuple[Shape, Shape, Shape]:
        query, value = input_shapes[0], input_shapes[1]
        key = input_shapes[2] if len(input_shapes) > 2 else value
        if len(query) < 2 or len(value) != len(query) or len(key) != len(query):
            raise ShapeError("expects query, value and key of one rank, 3 or more (batch, steps, features), got "
                             + ", ".join(fmt_shape(s) for s in input_shapes))
        if None not in (query[-1], key[-1]) and query[-1] != key[-1]:
            raise ShapeError(f"expects a key with the query's feature size, got {fmt_shape(query)} and {fmt_shape(key)}")
        if None not in (value[-2], key[-2]) and value[-2] != key[-2]:
            raise ShapeError(f"expects value and key of one length, got {fmt_shape(value)} and {fmt_shape(key)}")
        return query, value, key

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        query, value, _ = self._shapes(input_shapes)
        return (*query[:-1], value[-1])

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        query, value, key = self._shapes(input_shapes)
        pairs = math.prod(query[:-1]) * value[-2]
        return pairs * (value[-1] + (key[-1] if self.dot_scores else 0))

    def scores(self, module, query, key):
        """The (..., Tq, Tv) scores of query against key."""
        raise NotImplementedError

    def torch_forward(self, module, query, value, key=None, mask=None):
        import torch
        import torch.nn.functional as F

        key = value if key is None else key
        q_mask, v_mask = ([*(mask or ())] + [None, None])[:2]
        scores = self.scores(module, query, key)
        keep = None if v_mask is None else v_mask.unsqueeze(-2)
        if self.use_causal_mask:
            rows = torch.arange(scores.shape[-2], device=scores.device)[:, None]
            cols = torch.arange(scores.shape[-1], device=scores.device)[None, :]
            causal = (rows >= cols)[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = torch.where(keep, scores, scores - MASKED_SCORE)
        weights = torch.softmax(scores, dim=-1)
        if module.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, True)
        out = torch.matmul(weights, value)
        return out if q_mask is None else torch.where(q_mask.unsqueeze(-1), out, 0.0)

    def keras_config(self, data_format: DataFormat) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "inputs", "trainable"})

    def keras_layer(self, data_format: DataFormat, name: str):
        from archspec.layers.attention.keras_call import keras_attention_layer

        return keras_attention_layer(self, self.keras_config(data_format), name)
