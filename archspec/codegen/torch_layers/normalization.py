"""Normalization: nn.BatchNormNd with Keras's epsilon and momentum, layer normalization."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits


def torch_momentum(keras_momentum: float) -> float:
    """Keras: moving = moving * momentum + batch * (1 - momentum); PyTorch's momentum is the batch's share."""
    return float(f"{1 - keras_momentum:.12g}")


@emits("BatchNormalization")
def _batch_norm(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    shape = ctx.shape
    features = ctx.node.weights[-1].shape[0]
    rank = len(shape) - 1  # spatial axes after the feature axis
    cls = f"BatchNorm{max(rank, 1)}d" if rank <= 3 else None
    if cls is None:
        raise Refused("BatchNormalization over inputs of rank 6 or more has no generated PyTorch form yet")
    args = [("num_features", features, True), ("eps", cfg.epsilon, False), ("momentum", torch_momentum(cfg.momentum), False)]
    if not (cfg.scale or cfg.center):
        args.append(("affine", False, False))
    module, helpers = ctor(f"nn.{cls}", args), ()
    if cfg.scale != cfg.center:
        template, values, hints = module
        missing = "weight" if not cfg.scale else "bias"
        module, helpers = (f"without({template}, {{{len(values)}}})", (*values, missing), (*hints, "without")), ("without",)
    steps = [Step("{m}({x})")]
    if stub.dim != 1:
        steps = [Step("{m}({x}.movedim({0}, 1)).movedim(1, {0})", (stub.dim,), ("dim",),
                      "nn.BatchNorm normalizes dim 1; Keras's axis is elsewhere")]
    return TorchLayer(module=module, steps=steps, module_class=cls, helpers=helpers, weights={
        "gamma": ("weight", None), "beta": ("bias", None), "moving_mean": ("running_mean", None),
        "moving_variance": ("running_var", None)})


@emits("LayerNormalization")
def _layer_norm(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    if not stub.fused:
        raise Refused("LayerNormalization over axes other than the trailing ones (or with rms_scaling) has no "
                      "generated PyTorch form yet")
    if cfg.scale != cfg.center:
        raise Refused("LayerNormalization with only one of center and scale has no generated PyTorch form yet")
    args = [("normalized_shape", stub.normalized_shape if len(stub.normalized_shape) > 1 else stub.normalized_shape[0],
             True), ("eps", cfg.epsilon, False)]
    if not cfg.scale:
        args.append(("elementwise_affine", False, False))
    return TorchLayer(module=ctor("nn.LayerNorm", args), steps=[Step("{m}({x})")], module_class="LayerNorm",
                      weights={"gamma": ("weight", None), "beta": ("bias", None)})
