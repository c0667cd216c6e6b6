"""Attention (Luong-style dot-product attention)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.layers.attention import SEQUENCE
from archspec.layers.attention.base_attention import BaseAttention
from archspec.layers.base import DataFormat, Example, Shape, Weight
from archspec.layers.registry import register


@register("Attention")
class Attention(BaseAttention):
    """Dot-product (Luong-style) attention, `keras.layers.Attention`: no projections.

    scores = query . key (times a learned `scale` with use_scale), or with score_mode concat
    `concat_score_weight * sum(tanh(scale * (query + key)))`; softmax over the key steps weighs
    the values. Inputs `[query, value]` (the key is the value) or `[query, value, key]`.

    Masks, as in Keras: the value's mask hides value steps from every query (1e9 is subtracted
    from their scores), `use_causal_mask` hides later steps, the output is 0 at the query's
    masked steps and carries the query's mask. The key's mask is not used.

    Args:
        use_scale: learn a scalar `scale` of the scores.
        score_mode: `dot` (query . key) or `concat` (tanh of the sum).
        dropout: dropout rate on the attention probabilities, while training.
        use_causal_mask: a query step attends to no later step.

    Weights: `scale` (a scalar) with use_scale, `concat_score_weight` (a scalar) with concat.

    Input shapes: query (batch, Tq, dim), value (batch, Tv, value_dim), key (batch, Tv, dim).
    Output shape: (batch, Tq, value_dim).
    """

    examples = (
        Example({}, ((None, 4), (None, 4)), SEQUENCE),
        Example({"use_scale": True, "use_causal_mask": True}, ((None, 4), (None, 3), (None, 4)), SEQUENCE),
        Example({"score_mode": "concat", "use_scale": True}, ((5, 3), (6, 3)), SEQUENCE),
        Example({"score_mode": "concat", "use_causal_mask": True}, ((4, 2), (6, 5), (6, 2)), SEQUENCE),
    )

    use_scale: bool = Field(False, description="Learn a scalar scale of the scores.")
    score_mode: Literal["dot", "concat"] = Field("dot", description="dot: query . key; concat: tanh of query + key, summed.")

    @property
    def dot_scores(self) -> bool:
        return self.score_mode == "dot"

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        weights = [Weight("scale", (), "ones")] if self.use_scale else []
        if self.score_mode == "concat":
            weights.append(Weight("concat_score_weight", (), "ones"))
        return weights

    def scores(self, module, query, key):
        import torch

        scale = getattr(module, "scale", None)
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-2, -1))
            return scores if scale is None else scores * scale
        summed = query.unsqueeze(-2) + key.unsqueeze(-3)
        return module.concat_score_weight * torch.tanh(summed if scale is None else scale * summed).sum(-1)
