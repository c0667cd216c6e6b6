"""Attention: Keras's MultiHeadAttention and GroupQueryAttention (projections as nn.Linear named as
Keras names its EinsumDense layers), Attention and AdditiveAttention, as classes the file defines,
with Keras's masks and fill values."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.helpers import HELPERS

# torch.nn.MultiheadAttention differs (one fill value, no attention axes, other weight layout), so the
# file spells Keras's computation out; the name says whose it is
HELPERS["MultiHeadAttention"] = '''class MultiHeadAttention(nn.Module):
    """Keras's MultiHeadAttention: query, key and value projected to heads, softmax(q . k /
    sqrt(key_dim)) over the attention axes (Keras's numbering: 0 is the batch axis) weighs the
    values, the heads projected back. The masks of query, value and key, the causal and the
    sliding-window masks combine; hidden logits get Keras's fill values, so that a query step
    that may attend to nothing averages every value on rank-3 inputs without dropout (Keras's
    dot_product_attention) and attends to nothing otherwise (Keras's masked Softmax).
    `key_value_heads` fewer than `num_heads` each serve consecutive query heads."""

    def __init__(
        self,
        query_dim,
        value_dim_in,
        key_dim_in,
        num_heads,
        key_dim,
        value_dim,
        out_dim,
        attention_axes=(1,),
        bias=True,
        causal=False,
        sliding_window=None,
        gate=False,
        dropout=0.0,
        key_value_heads=None,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.key_value_heads = key_value_heads or num_heads
        self.attention_axes = attention_axes
        self.scale = 1.0 / math.sqrt(key_dim)
        self.causal = causal
        self.sliding_window = sliding_window
        self.dropout = dropout
        kv_heads = self.key_value_heads
        self.query = nn.Linear(query_dim, num_heads * key_dim, bias)
        self.key = nn.Linear(key_dim_in, kv_heads * key_dim, bias)
        self.gate = nn.Linear(query_dim, num_heads * value_dim, bias) if gate else None
        self.value = nn.Linear(value_dim_in, kv_heads * value_dim, bias)
        self.attention_output = nn.Linear(num_heads * value_dim, out_dim, bias)

    def heads(self, projection, x, heads):
        """(batch, other axes..., heads, attended axes..., channels)."""
        n = len(self.attention_axes)
        x = projection(x).unflatten(-1, (heads, -1))
        x = x.movedim(self.attention_axes, tuple(range(-n - 1, -1)))
        if heads != self.num_heads:
            x = x.repeat_interleave(self.num_heads // heads, dim=-n - 2)
        return x

    def attention_mask(self, query, value, query_mask, value_mask, key_mask):
        """Keras's: the query's mask along the query steps, the value's and key's along the key
        steps, the causal and sliding-window masks from the lengths of axis 1; None: none."""
        parts = [] if query_mask is None else [query_mask[..., None]]
        parts += [m[..., None, :] for m in (value_mask, key_mask) if m is not None]
        if self.causal or self.sliding_window is not None:
            rows = torch.arange(query.shape[1], device=query.device)[:, None]
            cols = torch.arange(value.shape[1], device=query.device)[None, :]
            if self.causal:
                parts.append(rows >= cols)
            if self.sliding_window is not None:
                parts.append((rows - cols).abs() < self.sliding_window)
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = mask & part
        return mask

    def scores(self, q, k):
        """q . k: (..., heads, query's attended axes..., key's attended axes...)."""
        n = len(self.attention_axes)
        scores = q.flatten(-n - 1, -2) @ k.flatten(-n - 1, -2).transpose(-1, -2)
        scores = scores.unflatten(-1, k.shape[-n - 1 : -1])
        return scores.unflatten(-n - 1, q.shape[-n - 1 : -1])

    def combine(self, probs, v):
        """The values weighed by probs, back in the input's layout: (batch, ..., heads, channels)."""
        n = len(self.attention_axes)
        out = probs.flatten(-n).flatten(-n - 1, -2) @ v.flatten(-n - 1, -2)
        out = out.unflatten(-2, probs.shape[-2 * n : -n])
        return out.movedim(tuple(range(-n - 1, -1)), self.attention_axes)

    def forward(
        self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None
    ):
        key = value if key is None else key
        n = len(self.attention_axes)
        q = self.heads(self.query, query, self.num_heads)
        k = self.heads(self.key, key, self.key_value_heads)
        v = self.heads(self.value, value, self.key_value_heads)
        fast = query.dim() == 3 and self.dropout == 0
        if fast:  # Keras's dot_product_attention
            scores = self.scores(q, k) * self.scale
        else:  # Keras's Softmax with a mask, then dropout
            scores = self.scores(q * self.scale, k)
        mask = self.attention_mask(query, value, query_mask, value_mask, key_mask)
        if mask is not None:
            while mask.dim() < scores.dim():  # Keras adds the missing axes here
                mask = mask.unsqueeze(-2 * n - 1)
            scores = torch.where(mask, scores, -0.7 * 3.38953e38 if fast else -1e9)
        probs = torch.softmax(scores.flatten(-n), dim=-1)
        probs = probs.unflatten(-1, scores.shape[-n:])
        if not fast:
            if mask is not None:
                probs = torch.where(mask, probs, 0.0)
            probs = F.dropout(probs, self.dropout, self.training)
        out = self.combine(probs, v)
        if self.gate is not None:
            gate = self.gate(query).unflatten(-1, (self.num_heads, -1))
            out = out * torch.sigmoid(gate)
        return self.attention_output(out.flatten(-2))
'''

HELPERS["ShapedMultiHeadAttention"] = '''class ShapedMultiHeadAttention(MultiHeadAttention):
    """MultiHeadAttention whose output has several trailing axes (Keras's output_shape):
    attention_output projects to their product."""

    def __init__(
        self,
        query_dim,
        value_dim_in,
        key_dim_in,
        num_heads,
        key_dim,
        value_dim,
        output_shape,
        **kwargs,
    ):
        out_dim = math.prod(output_shape)
        super().__init__(
            query_dim,
            value_dim_in,
            key_dim_in,
            num_heads,
            key_dim,
            value_dim,
            out_dim,
            **kwargs,
        )
        self.output_shape = output_shape

    def forward(self, *args, **kwargs):
        return super().forward(*args, **kwargs).unflatten(-1, self.output_shape)
'''

HELPERS["GroupQueryAttention"] = '''class GroupQueryAttention(MultiHeadAttention):
    """Keras's GroupQueryAttention: `num_key_value_heads` key and value heads, each serving
    num_query_heads / num_key_value_heads consecutive query heads; the output has the query's
    features."""

    def __init__(
        self,
        features,
        key_features,
        num_query_heads,
        num_key_value_heads,
        head_dim,
        **kwargs,
    ):
        super().__init__(
            features,
            features,
            key_features,
            num_query_heads,
            head_dim,
            head_dim,
            features,
            key_value_heads=num_key_value_heads,
            **kwargs,
        )
'''

HELPERS["Attention"] = '''class Attention(nn.Module):
    """Keras's Attention (Luong-style, no projections): softmax over the key steps of the scores
    query . key (times a learned scalar with use_scale), or with score_mode "concat"
    concat_score_weight * sum(tanh(scale * (query + key))), weighs the values. The value's mask
    and the causal mask subtract 1e9 from the scores they hide, as Keras does; the output is 0
    at the query's masked steps."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, causal=False):
        super().__init__()
        self.score_mode = score_mode
        self.dropout = dropout
        self.causal = causal
        self.scale = nn.Parameter(torch.ones(())) if use_scale else None
        concat = score_mode == "concat"
        self.concat_score_weight = nn.Parameter(torch.ones(())) if concat else None

    def scores(self, query, key):
        if self.score_mode == "dot":
            scores = query @ key.transpose(-1, -2)
            return scores if self.scale is None else scores * self.scale
        summed = query[..., :, None, :] + key[..., None, :, :]
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def forward(self, query, value, key=None, query_mask=None, value_mask=None):
        key = value if key is None else key
        scores = self.scores(query, key)
        keep = None if value_mask is None else value_mask[..., None, :]
        if self.causal:
            rows = torch.arange(scores.shape[-2], device=scores.device)[:, None]
            cols = torch.arange(scores.shape[-1], device=scores.device)[None, :]
            keep = rows >= cols if keep is None else keep & (rows >= cols)
        if keep is not None:
            scores = torch.where(keep, scores, scores - 1e9)
        probs = F.dropout(torch.softmax(scores, dim=-1), self.dropout, self.training)
        out = probs @ value
        if query_mask is not None:
            out = torch.where(query_mask[..., None], out, 0.0)
        return out
'''

HELPERS["AdditiveAttention"] = '''class AdditiveAttention(Attention):
    """Keras's AdditiveAttention (Bahdanau-style): the scores are sum(scale * tanh(query + key))
    over the features, with a learned scale per feature (use_scale); the rest as Attention."""

    def __init__(self, features, use_scale=True, dropout=0.0, causal=False):
        super().__init__(dropout=dropout, causal=causal)
        self.scale = nn.Parameter(torch.ones(features)) if use_scale else None

    def scores(self, query, key):
        tanh = torch.tanh(query[..., :, None, :] + key[..., None, :, :])
        return (tanh if self.scale is None else self.scale * tanh).sum(-1)
'''


def _options(args: list, pairs) -> list:
    """Keyword arguments of the config's values that differ from the class's defaults."""
    for name, value, default in pairs:
        if value != default:
            args.append((name, value, False))
    return args


def _masked_call(ctx: Context, roles: tuple[str, ...]) -> Step:
    inputs = ", ".join(f"{{x{i}}}" for i in range(ctx.n_inputs))
    masks = "".join(f", {role}_mask={{mask{i}}}" for i, role in enumerate(roles)
                    if i < ctx.n_inputs and ctx.masks[i])
    return Step(f"{{m}}({inputs}{masks})")


def _projection_weights(parts: tuple[str, ...], out_rank: int) -> dict:
    """Keras's EinsumDense kernels (features, heads, size) held as nn.Linear's (heads * size, features);
    attention_output's (heads, size, *out) as (prod(out), heads * size)."""
    weights = {}
    for part in parts:
        weights[f"{part}/kernel"] = (f"{part}.weight", (1, 2, 0))
        weights[f"{part}/bias"] = (f"{part}.bias", None)
    weights["attention_output/kernel"] = ("attention_output.weight", (*range(2, 2 + out_rank), 0, 1))
    weights["attention_output/bias"] = ("attention_output.bias", None)
    return weights


def _attention_options(cfg) -> tuple:
    return (("bias", cfg.use_bias, True), ("causal", cfg.use_causal_mask, False),
            ("sliding_window", cfg.sliding_window, None), ("gate", cfg.use_gate, False), ("dropout", cfg.dropout, 0.0))


@emits("MultiHeadAttention")
def _multi_head_attention(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shapes = ctx.node.input_shapes
    query, value = shapes[0], shapes[1]
    key = shapes[2] if len(shapes) > 2 else value
    out = tuple(cfg.partial_output_shape or [query[-1]])
    cls = "ShapedMultiHeadAttention" if len(out) > 1 else "MultiHeadAttention"
    args = [("query_dim", query[-1], True), ("value_dim_in", value[-1], True), ("key_dim_in", key[-1], True),
            ("num_heads", cfg.num_heads, True), ("key_dim", cfg.key_dim, True), ("value_dim", cfg.head_value_dim, True),
            ("output_shape", out, True) if len(out) > 1 else ("out_dim", out[0], True)]
    _options(args, (("attention_axes", cfg.axes(len(query)), (1,)), *_attention_options(cfg)))
    helpers = ("MultiHeadAttention", cls) if len(out) > 1 else (cls,)
    return TorchLayer(module=ctor(cls, args), steps=[_masked_call(ctx, ("query", "value", "key"))],
                      module_class=cls, weights=_projection_weights(("query", "key", "value", "gate"), len(out)),
                      helpers=helpers)


@emits("GroupQueryAttention")
def _group_query_attention(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shapes = ctx.node.input_shapes
    key = shapes[2] if len(shapes) > 2 else shapes[1]
    args = [("features", shapes[0][-1], True), ("key_features", key[-1], True),
            ("num_query_heads", cfg.num_query_heads, True), ("num_key_value_heads", cfg.num_key_value_heads, True),
            ("head_dim", cfg.head_dim, True)]
    _options(args, _attention_options(cfg))
    return TorchLayer(module=ctor("GroupQueryAttention", args), steps=[_masked_call(ctx, ("query", "value", "key"))],
                      module_class="GroupQueryAttention", weights=_projection_weights(("query", "key", "value", "gate"), 1),
                      helpers=("MultiHeadAttention", "GroupQueryAttention"))


@emits("Attention")
def _attention(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = _options([], (("use_scale", cfg.use_scale, False), ("score_mode", cfg.score_mode, "dot"),
                              ("dropout", cfg.dropout, 0.0), ("causal", cfg.use_causal_mask, False)))
    # Keras's Attention reads the query's and the value's masks, not the key's
    return TorchLayer(module=ctor("Attention", args), steps=[_masked_call(ctx, ("query", "value"))],
                      module_class="Attention", helpers=("Attention",),
                      weights={"scale": ("scale", None), "concat_score_weight": ("concat_score_weight", None)})


@emits("AdditiveAttention")
def _additive_attention(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = _options([("features", ctx.node.input_shapes[0][-1], True)], (
        ("use_scale", cfg.use_scale, True), ("dropout", cfg.dropout, 0.0), ("causal", cfg.use_causal_mask, False)))
    return TorchLayer(module=ctor("AdditiveAttention", args), steps=[_masked_call(ctx, ("query", "value"))],
                      module_class="AdditiveAttention", helpers=("Attention", "AdditiveAttention"),
                      weights={"scale": ("scale", None)})
