"""MultiHeadAttention as a class the file defines, with Keras's masks and fill values."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits


@emits("MultiHeadAttention")
def _multi_head_attention(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shapes = ctx.node.input_shapes
    query, value = shapes[0], shapes[1]
    key = shapes[2] if len(shapes) > 2 else value
    if len(query) != 2 or cfg.axes(len(query)) != (1,):
        raise Refused("MultiHeadAttention over inputs of rank 4 or more has no generated PyTorch form yet")
    out = cfg.partial_output_shape or [query[-1]]
    if len(out) != 1:
        raise Refused("MultiHeadAttention with a multi-axis output_shape has no generated PyTorch form yet")
    vd = cfg.head_value_dim
    args = [("query_dim", query[-1], True), ("value_dim_in", value[-1], True), ("key_dim_in", key[-1], True),
            ("num_heads", cfg.num_heads, True), ("key_dim", cfg.key_dim, True), ("value_dim", vd, True),
            ("out_dim", out[0], True)]
    for name, value_, default in (("bias", cfg.use_bias, True), ("causal", cfg.use_causal_mask, False),
                                  ("sliding_window", cfg.sliding_window, None), ("gate", cfg.use_gate, False),
                                  ("dropout", cfg.dropout, 0.0)):
        if value_ != default:
            args.append((name, value_, False))
    inputs = ", ".join(f"{{x{i}}}" for i in range(len(shapes)))
    masks = "".join(f", {role}_mask={{mask{i}}}" for i, role in enumerate(("query", "value", "key")) if
                    i < len(shapes) and ctx.masks[i])
    weights = {}
    for part in ("query", "key", "value", "gate"):
        weights[f"{part}/kernel"] = (f"{part}.weight", (1, 2, 0))
        weights[f"{part}/bias"] = (f"{part}.bias", None)
    weights["attention_output/kernel"] = ("attention_output.weight", (2, 0, 1))
    weights["attention_output/bias"] = ("attention_output.bias", None)
    return TorchLayer(module=ctor("MultiHeadAttention", args), steps=[Step(f"{{m}}({inputs}{masks})")],
                      module_class="MultiHeadAttention", weights=weights, helpers=("MultiHeadAttention",))
