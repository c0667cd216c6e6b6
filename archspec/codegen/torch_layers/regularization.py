"""Regularization: dropout and noise, active in training only (nn.Module.train/eval)."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits


@emits("Dropout")
def _dropout(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    if cfg.noise_shape is not None:
        shape = list(cfg.noise_shape)
        if ctx.inside and len(shape) > 2:  # noise_shape is in the spec's layout (channels last)
            shape = [shape[0], shape[-1], *shape[1:-1]]
        return TorchLayer(module=("SharedDropout({0}, {1})", (cfg.rate, shape), ("rate", "noise_shape")),
                          steps=[Step("{m}({x})")], helpers=("SharedDropout",))
    return TorchLayer(module=ctor("nn.Dropout", [("p", cfg.rate, True)]), steps=[Step("{m}({x})")])


@emits("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
def _spatial_dropout(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    if not ctx.inside and ctx.data_format == "channels_last":
        raise Refused(f"{cfg.type_name} on a channels_last tensor has no generated PyTorch form yet")
    cls = {1: "nn.Dropout1d", 2: "nn.Dropout2d", 3: "nn.Dropout3d"}[cfg.rank]
    return TorchLayer(module=ctor(cls, [("p", cfg.rate, True)]), steps=[Step("{m}({x})")])


@emits("ActivityRegularization")
def _activity(ctx: Context) -> TorchLayer:
    return TorchLayer()  # a loss term in training; the identity in the forward


@emits("GaussianNoise", "GaussianDropout", "AlphaDropout")
def _noise(ctx: Context) -> TorchLayer:
    raise Refused(f"{ctx.cfg.type_name} has no generated PyTorch form yet")
