"""AdditiveAttention (Bahdanau-style)."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.attention import SEQUENCE
from archspec.layers.attention.base_attention import BaseAttention
from archspec.layers.base import DataFormat, Example, Shape, Weight
from archspec.layers.registry import register


@register("AdditiveAttention")
class AdditiveAttention(BaseAttention):
    """Additive (Bahdanau-style) attention, `keras.layers.AdditiveAttention`: no projections.

    scores = sum(scale * tanh(query + key)) over the features, with a learned `scale` per
    feature (use_scale, the default); then as Attention: softmax over the key steps, masks,
    causal mask and dropout. Inputs `[query, value]` or `[query, value, key]`.

    Args:
        use_scale: learn a scale per feature (glorot_uniform), else 1.
        dropout: dropout rate on the attention probabilities, while training.
        use_causal_mask: a query step attends to no later step.

    Weights: `scale` (dim,) with use_scale.

    Input shapes: query (batch, Tq, dim), value (batch, Tv, value_dim), key (batch, Tv, dim).
    Output shape: (batch, Tq, value_dim).
    """

    examples = (
        Example({}, ((None, 4), (None, 4)), SEQUENCE),
        Example({"use_scale": False, "use_causal_mask": True}, ((None, 3), (None, 5), (None, 3)), SEQUENCE),
        Example({}, ((5, 3), (6, 2), (6, 3)), SEQUENCE),
    )

    use_scale: bool = Field(True, description="Learn a scale per feature of the scores.")

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        query = self._shapes(input_shapes)[0]
        return [Weight("scale", (query[-1],), "glorot_uniform")] if self.use_scale else []

    def scores(self, module, query, key):
        import torch

        tanh = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        scale = getattr(module, "scale", None)
        return (tanh if scale is None else scale * tanh).sum(-1)
