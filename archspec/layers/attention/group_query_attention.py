"""GroupQueryAttention."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, model_validator

from archspec.initializers import Initializer
from archspec.layers.attention import SEQUENCE, heads
from archspec.layers.attention.multi_head_attention import output_weights, projection_weights
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register


@register("GroupQueryAttention")
class GroupQueryAttention(Layer):
    """Grouped-query attention (Ainslie et al., 2023), `keras.layers.GroupQueryAttention`.

    Like MultiHeadAttention, with `num_query_heads` query heads sharing `num_key_value_heads`
    key and value heads: each key/value head serves `num_query_heads / num_key_value_heads`
    consecutive query heads (1 key/value head: multi-query attention). The output has the
    query's shape. Inputs `[query, value]` or `[query, value, key]`; masks, the causal mask and
    the output's mask as in MultiHeadAttention.

    Args:
        head_dim: size of every head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads; divides num_query_heads.
        dropout: dropout rate on the attention probabilities, while training.
        use_bias: the projections have biases.
        sliding_window: each query step attends to key steps less than this far away.
        use_gate: a sigmoid gate from the query multiplies the heads' outputs.
        use_causal_mask: a query step attends to no later step.

    Weights: `query/kernel` (features, query heads, head_dim), `key/kernel` and `value/kernel`
    (features, key/value heads, head_dim), `gate/kernel` with use_gate,
    `attention_output/kernel` (query heads, head_dim, features), and their biases.

    Input shapes: (batch, steps, features); the value's features equal the query's. Output
    shape: the query's.
    """

    min_inputs = 2
    max_inputs = 3
    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: the output carries the query's mask
    uses_mask = True
    masks_per_input: ClassVar[bool] = True  # torch_forward gets [query's, value's, key's] masks
    examples = (
        Example({"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2}, ((None, 6), (None, 6)), SEQUENCE),
        Example({"head_dim": 2, "num_query_heads": 3, "num_key_value_heads": 1, "use_causal_mask": True,
                 "use_gate": True}, ((None, 5), (None, 5), (None, 3)), SEQUENCE),
        Example({"head_dim": 4, "num_query_heads": 2, "num_key_value_heads": 2, "use_bias": False,
                 "sliding_window": 3, "kernel_initializer": "lecun_normal"}, ((6, 4), (9, 4)), SEQUENCE),
    )

    head_dim: int = Field(..., ge=1, strict=True, description="Size of every attention head.")
    num_query_heads: int = Field(..., ge=1, strict=True, description="Number of query heads.")
    num_key_value_heads: int = Field(
        ..., ge=1, strict=True, description="Number of key and value heads (divides num_query_heads).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate on the attention probabilities (training only).")
    use_bias: bool = Field(True, description="The projections have biases.")
    sliding_window: int | None = Field(
        None, ge=1, strict=True, description="A query step attends to key steps less than this far away.")
    use_gate: bool = Field(False, description="Gate the heads' outputs with a sigmoid projection of the query.")
    use_causal_mask: bool = Field(False, description="A query step attends to no later step (Keras's call flag).")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the projection kernels.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the projection biases.")
    seed: int | None = Field(None, description="Seed of Keras's dropout draws.")

    @model_validator(mode="after")
    def _groups(self):
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(f"num_query_heads ({self.num_query_heads}) must be a multiple of "
                             f"num_key_value_heads ({self.num_key_value_heads})")
        return self

    @property
    def stochastic(self) -> bool:
        return self.dropout > 0

    def _shapes(self, input_shapes: list[Shape]) -> tuple[Shape, Shape, Shape]:
        query, value = input_shapes[0], input_shapes[1]
        key = input_shapes[2] if len(input_shapes) > 2 else value
        for what, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) != 2:
                raise ShapeError(f"expects a {what} of rank 3 (batch, steps, features), got {fmt_shape(shape)}")
            if shape[-1] is None:
                raise ShapeError(f"needs a fixed feature size (last axis) of the {what}, got {fmt_shape(shape)}")
        if query[-1] != value[-1]:
            raise ShapeError(f"expects a value with the query's feature size, got {fmt_shape(query)} and {fmt_shape(value)}")
        if value[0] != key[0]:
            raise ShapeError(f"expects value and key of one length, got {fmt_shape(value)} and {fmt_shape(key)}")
        return query, value, key

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        return self._shapes(input_shapes)[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        query, value, key = self._shapes(input_shapes)
        nq, nkv, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        k_init, b_init = self.kernel_initializer, self.bias_initializer
        weights = projection_weights("query", query[-1], nq, h, self.use_bias, k_init, b_init)
        weights += projection_weights("key", key[-1], nkv, h, self.use_bias, k_init, b_init)
        if self.use_gate:
            weights += projection_weights("gate", query[-1], nq, h, self.use_bias, k_init, b_init)
        weights += projection_weights("value", value[-1], nkv, h, self.use_bias, k_init, b_init)
        return weights + output_weights(nq, h, (query[-1],), self.use_bias, k_init, b_init)

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        query, value, key = self._shapes(input_shapes)
        nq, nkv, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        t, s = query[0], value[0]
        total = t * query[-1] * nq * h * (2 if self.use_gate else 1) + s * (key[-1] + value[-1]) * nkv * h
        return total + t * s * nq * h * 2 + t * nq * h * query[-1]

    def torch_setup(self, module, input_shapes, data_format):
        module.scores_equation, module.combine_equation = heads.attention_equations(4, (1,))
        module.attention_rank = 1
        module.fast = self.dropout == 0  # Keras's dot_product_attention path

    def torch_forward(self, module, query, value, key=None, mask=None):
        import torch

        key = value if key is None else key
        attention_mask = heads.attention_mask(query, value, mask, self.use_causal_mask, self.sliding_window)
        nq, nkv, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        q = heads.project(query, module.query_kernel, getattr(module, "query_bias", None), nq, h)
        k = _repeat_heads(heads.project(key, module.key_kernel, getattr(module, "key_bias", None), nkv, h), nq // nkv)
        v = _repeat_heads(heads.project(value, module.value_kernel, getattr(module, "value_bias", None), nkv, h), nq // nkv)
        out = heads.attend(module, q, k, v, attention_mask, 1.0 / math.sqrt(h), self.dropout)
        if self.use_gate:
            out = out * torch.sigmoid(heads.project(query, module.gate_kernel, getattr(module, "gate_bias", None), nq, h))
        return heads.project_out(out, module.attention_output_kernel,
                                 getattr(module, "attention_output_bias", None), (query.shape[-1],))

    def keras_config(self, data_format: DataFormat) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "inputs", "trainable"})

    def keras_layer(self, data_format: DataFormat, name: str):
        from archspec.layers.attention.keras_call import keras_attention_layer

        return keras_attention_layer(self, self.keras_config(data_format), name)


def _repeat_heads(x, repeats: int):
    """Keras's `ops.repeat(x, repeats, axis=2)`: each key/value head serves `repeats` consecutive
    query heads. Written with expand, so that an exported graph keeps the lengths free."""
    if repeats == 1:
        return x
    return x.unsqueeze(3).expand(-1, -1, -1, repeats, -1).flatten(2, 3)
