"""Dense, Embedding, PositionEmbedding, Masking."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.activations import activation_steps


@emits("Dense")
def _dense(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [("in_features", ctx.node.input_shapes[0][-1], True), ("out_features", cfg.units, True)]
    if not cfg.use_bias:
        args.append(("bias", False, False))
    return TorchLayer(module=ctor("nn.Linear", args), steps=[Step("{m}({x})"), *activation_steps(cfg.activation, False)],
                      module_class="Linear", weights={"kernel": ("weight", (1, 0)), "bias": ("bias", None)})


@emits("Embedding")
def _embedding(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    return TorchLayer(module=ctor("nn.Embedding", [("num_embeddings", cfg.input_dim, True),
                                                   ("embedding_dim", cfg.output_dim, True)]),
                      steps=[Step("{m}({x}.long())")], module_class="Embedding",
                      weights={"embeddings": ("weight", None)})


@emits("PositionEmbedding")
def _position_embedding(ctx: Context) -> TorchLayer:
    return TorchLayer(module=ctor("PositionEmbedding", [("sequence_length", ctx.cfg.sequence_length, True),
                                                        ("features", ctx.node.input_shapes[0][-1], True)]),
                      steps=[Step("{m}({x})")], module_class="PositionEmbedding",
                      weights={"embeddings": ("embeddings", None)}, helpers=("PositionEmbedding",))


@emits("Masking")
def _masking(ctx: Context) -> TorchLayer:
    # the mask itself is the plan's (mask_lines); the values of masked steps become zeros
    return TorchLayer(steps=[Step("{x} * ({x} != {0}).any(dim=-1, keepdim=True)", (float(ctx.cfg.mask_value),),
                                  ("mask_value",))])
