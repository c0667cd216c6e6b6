"""MultiHeadAttention."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Union

from pydantic import BeforeValidator, ConfigDict, Field

from archspec.initializers import Initializer
from archspec.layers.attention import SEQUENCE, heads
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register


def _int_list(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    return [value] if isinstance(value, int) else value


StrictInt = Annotated[int, Field(strict=True)]
PositiveInts = Annotated[
    list[Annotated[int, Field(strict=True, ge=1)]],
    Field(min_length=1),
    BeforeValidator(_int_list, json_schema_input_type=Union[int, list[int]]),
]
Axes = Annotated[
    list[StrictInt], Field(min_length=1), BeforeValidator(_int_list, json_schema_input_type=Union[int, list[int]]),
]


def projection_weights(prefix: str, features: int, count: int, size: int, use_bias: bool,
                       kernel_init: str, bias_init: str) -> list[Weight]:
    """An EinsumDense `...d,dnh->...nh` in Keras's layout, held by PyTorch as F.linear's (n * h, d)."""
    kernel = Weight(f"{prefix}/kernel", (features, count, size), kernel_init,
                    torch_permute=(1, 2, 0), torch_shape=(count * size, features))
    if not use_bias:
        return [kernel]
    return [kernel, Weight(f"{prefix}/bias", (count, size), bias_init, torch_shape=(count * size,))]


def output_weights(count: int, size: int, out: tuple[int, ...], use_bias: bool,
                   kernel_init: str, bias_init: str) -> list[Weight]:
    """`attention_output`: EinsumDense `...nh,nh<out>->...<out>`, held by PyTorch as (prod(out), n * h)."""
    rank = len(out)
    kernel = Weight("attention_output/kernel", (count, size, *out), kernel_init,
                    torch_permute=(*range(2, 2 + rank), 0, 1), torch_shape=(math.prod(out), count * size))
    if not use_bias:
        return [kernel]
    return [kernel, Weight("attention_output/bias", out, bias_init, torch_shape=(math.prod(out),))]


@register("MultiHeadAttention")
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017), `keras.layers.MultiHeadAttention`.

    The query, key and value are projected to `num_heads` heads (EinsumDense), the query scaled
    by 1/sqrt(key_dim); softmax(query . key) over the attention axes weighs the values; the
    heads are projected back to the query's feature size (or `output_shape`).

    Inputs are listed in Keras's call order: `[query, value]` (the key is the value) or
    `[query, value, key]`; self-attention lists one tensor twice (`inputs: [x, x]`).

    Masks, as in Keras: the query's mask hides nothing from the query but marks which query
    steps attend at all, the value's and key's masks hide steps from every query, and
    `use_causal_mask` hides later steps; they combine (AND). The output carries the query's
    mask. Where a query step may attend to nothing (a padded step), Keras gives a uniform
    average of the values without dropout on rank-3 inputs and zero attention otherwise; so
    does archspec.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default key_dim).
        dropout: dropout rate on the attention probabilities, while training.
        use_bias: the projections have biases.
        output_shape: the output's trailing shape (an int or a list); default the query's
            feature size.
        attention_axes: the axes attended over (Keras counts the batch axis); default every axis
            but the batch and feature axes. `[1, 2]` on (batch, height, width, channels) inputs
            attends over the image.
        sliding_window: each query step attends to key steps less than this far away.
        use_gate: a sigmoid gate from the query multiplies the heads' outputs (gated attention).
        use_causal_mask: a query step attends to no later step (decoder self-attention).

    Weights: `query/kernel` (features, heads, key_dim) and `query/bias` (heads, key_dim); the
    same for `key` and (with value_dim) `value`, and `gate` with use_gate;
    `attention_output/kernel` (heads, value_dim, *output) and `attention_output/bias`.

    Input shapes: query (batch, ..., features), value and key (batch, ..., features) of the
    query's rank. Output shape: (batch, ..., output_shape or query features).
    """

    model_config = ConfigDict(serialize_by_alias=True)

    min_inputs = 2
    max_inputs = 3
    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: the output carries the query's mask
    uses_mask = True
    # torch_forward gets every input's mask (`mask=[query's, value's, key's]`), as Keras hands
    # query_mask, value_mask and key_mask to its call
    masks_per_input: ClassVar[bool] = True
    examples = (
        Example({"num_heads": 2, "key_dim": 3}, ((None, 6), (None, 6)), SEQUENCE),
        Example({"num_heads": 2, "key_dim": 3, "value_dim": 4, "output_shape": [2, 5], "use_causal_mask": True},
                ((None, 6), (None, 5), (None, 4)), SEQUENCE),
        Example({"num_heads": 2, "key_dim": 2, "attention_axes": [1, 2]}, ((3, 4, 5), (3, 4, 5))),
        Example({"num_heads": 3, "key_dim": 2, "use_bias": False, "use_gate": True, "output_shape": 3,
                 "kernel_initializer": "he_normal"}, ((5, 4), (7, 6))),
        Example({"num_heads": 1, "key_dim": 4, "sliding_window": 2, "use_causal_mask": True,
                 "bias_initializer": "ones"}, ((None, 4), (None, 4)), SEQUENCE),
        Example({"num_heads": 2, "key_dim": 2, "attention_axes": 2}, ((3, 4, 5), (3, 6, 5))),
    )

    num_heads: int = Field(..., ge=1, strict=True, description="Number of attention heads.")
    key_dim: int = Field(..., ge=1, strict=True, description="Size of each head for query and key.")
    value_dim: int | None = Field(None, ge=1, strict=True, description="Size of each head for value (default key_dim).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout rate on the attention probabilities (training only).")
    use_bias: bool = Field(True, description="The projections have biases.")
    partial_output_shape: PositiveInts | None = Field(
        None, alias="output_shape", description="Trailing shape of the output; default the query's feature size.")
    attention_axes: Axes | None = Field(
        None, description="Axes attended over (counting the batch axis); default all but batch and features.")
    sliding_window: int | None = Field(
        None, ge=1, strict=True, description="A query step attends to key steps less than this far away.")
    use_gate: bool = Field(False, description="Gate the heads' outputs with a sigmoid projection of the query.")
    use_causal_mask: bool = Field(False, description="A query step attends to no later step (Keras's call flag).")
    kernel_initializer: Initializer = Field("glorot_uniform", description="Initializer of the projection kernels.")
    bias_initializer: Initializer = Field("zeros", description="Initializer of the projection biases.")
    seed: int | None = Field(None, description="Seed of Keras's dropout draws.")

    @property
    def stochastic(self) -> bool:
        return self.dropout > 0

    @property
    def head_value_dim(self) -> int:
        return self.value_dim or self.key_dim

    def _shapes(self, input_shapes: list[Shape]) -> tuple[Shape, Shape, Shape]:
        query, value = input_shapes[0], input_shapes[1]
        key = input_shapes[2] if len(input_shapes) > 2 else value
        if len(query) < 2:
            raise ShapeError(f"expects a query of rank 3 or more (batch, steps, features), got {fmt_shape(query)}")
        if len(value) != len(query) or len(key) != len(query):
            raise ShapeError("expects query, value and key of one rank, got "
                             + ", ".join(fmt_shape(s) for s in input_shapes))
        if value[:-1] != key[:-1]:
            raise ShapeError(f"expects value and key that agree on every axis but the last, got "
                             f"{fmt_shape(value)} and {fmt_shape(key)}")
        for what, shape in (("query", query), ("value", value), ("key", key)):
            if shape[-1] is None:
                raise ShapeError(f"needs a fixed feature size (last axis) of the {what}, got {fmt_shape(shape)}")
        return query, value, key

    def axes(self, rank: int) -> tuple[int, ...]:
        """The attention axes as Keras indexes the projected tensors (batch 0, ..., heads, channels),
        for inputs with `rank` per-sample axes."""
        if self.attention_axes is None:
            return tuple(range(1, rank))
        axes = tuple(a if a >= 0 else rank + 1 + a for a in self.attention_axes)
        bad = [a for a, given in zip(axes, self.attention_axes) if not 1 <= a <= rank - 1]
        if bad or len(set(axes)) != len(axes):
            given = self.attention_axes[axes.index(bad[0])] if bad else self.attention_axes
            raise ShapeError(f"attention_axes {given} must name distinct axes of the inputs other than the batch "
                             f"and feature axes: 1 to {rank - 1} for inputs of rank {rank + 1}")
        return axes

    def _out(self, query: Shape) -> tuple[int, ...]:
        return tuple(self.partial_output_shape) if self.partial_output_shape else (query[-1],)

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        query, value, key = self._shapes(input_shapes)
        axes = self.axes(len(query))
        heads.check_axes(axes, query, key, "key")
        if (self.use_causal_mask or self.sliding_window is not None) and axes != (1,):
            raise ShapeError(f"builds its causal or sliding-window mask, as Keras does, from the lengths of axis 1 "
                             f"only, so it needs attention_axes [1], got {list(axes)}")
        return (*query[:-1], *self._out(query))

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        query, value, key = self._shapes(input_shapes)
        n, kd, vd = self.num_heads, self.key_dim, self.head_value_dim
        k_init, b_init = self.kernel_initializer, self.bias_initializer
        weights = projection_weights("query", query[-1], n, kd, self.use_bias, k_init, b_init)
        weights += projection_weights("key", key[-1], n, kd, self.use_bias, k_init, b_init)
        if self.use_gate:
            weights += projection_weights("gate", query[-1], n, vd, self.use_bias, k_init, b_init)
        weights += projection_weights("value", value[-1], n, vd, self.use_bias, k_init, b_init)
        return weights + output_weights(n, vd, self._out(query), self.use_bias, k_init, b_init)

    def macs(self, input_shapes: list[Shape], output_shape: Shape, data_format: DataFormat) -> int:
        query, value, key = self._shapes(input_shapes)
        n, kd, vd = self.num_heads, self.key_dim, self.head_value_dim
        steps, kv_steps = math.prod(query[:-1]), math.prod(value[:-1])
        attended = math.prod(key[a - 1] for a in self.axes(len(query)))  # key positions per query position
        total = steps * query[-1] * n * kd + kv_steps * key[-1] * n * kd + kv_steps * value[-1] * n * vd
        total += steps * attended * n * (kd + vd) + steps * n * vd * math.prod(self._out(query))
        return total + (steps * query[-1] * n * vd if self.use_gate else 0)

    def torch_setup(self, module, input_shapes, data_format):
        query = input_shapes[0]
        axes = self.axes(len(query))
        module.scores_equation, module.combine_equation = heads.attention_equations(len(query) + 2, axes)
        module.attention_rank = len(axes)
        module.fast = self.dropout == 0 and len(query) == 2  # Keras's dot_product_attention path
        module.out = self._out(query)

    def torch_forward(self, module, query, value, key=None, mask=None):
        import torch

        key = value if key is None else key
        attention_mask = heads.attention_mask(query, value, mask, self.use_causal_mask, self.sliding_window)
        n, kd, vd = self.num_heads, self.key_dim, self.head_value_dim
        q = heads.project(query, module.query_kernel, getattr(module, "query_bias", None), n, kd)
        k = heads.project(key, module.key_kernel, getattr(module, "key_bias", None), n, kd)
        v = heads.project(value, module.value_kernel, getattr(module, "value_bias", None), n, vd)
        out = heads.attend(module, q, k, v, attention_mask, 1.0 / math.sqrt(kd), self.dropout)
        if self.use_gate:
            out = out * torch.sigmoid(heads.project(query, module.gate_kernel, getattr(module, "gate_bias", None), n, vd))
        return heads.project_out(out, module.attention_output_kernel,
                                 getattr(module, "attention_output_bias", None), module.out)

    def keras_config(self, data_format: DataFormat) -> dict[str, Any]:
        config = self.model_dump(exclude={"name", "inputs", "trainable"}, by_alias=True)
        for key in ("output_shape", "attention_axes"):
            if config[key] is not None:
                config[key] = tuple(config[key])
        return config

    def keras_layer(self, data_format: DataFormat, name: str):
        from archspec.layers.attention.keras_call import keras_attention_layer

        return keras_attention_layer(self, self.keras_config(data_format), name)
