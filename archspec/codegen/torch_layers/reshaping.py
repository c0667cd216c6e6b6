"""Reshaping: Flatten in Keras's order, Reshape, Permute, padding, cropping, up-sampling."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits, unwrap


@emits("Flatten")
def _flatten(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x}.flatten(1)")])


@emits("Reshape")
def _reshape(ctx: Context) -> TorchLayer:
    target = ctx.node.output_shape
    return TorchLayer(steps=[Step("{x}.reshape(-1, *{0})", (tuple(target),), ("shape",))])


@emits("Permute")
def _permute(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x}.permute(0, *{0})", (tuple(ctx.cfg.dims),), ("dims",))])


@emits("RepeatVector")
def _repeat_vector(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x}.unsqueeze(1).expand(-1, {0}, -1)", (ctx.cfg.n,), ("n",))])


@emits("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def _zero_padding(ctx: Context) -> TorchLayer:
    stub = ctx.setup()
    return TorchLayer(steps=[Step("F.pad({x}, {0})", (tuple(stub.pad),), ("pad",))])


@emits("Cropping1D", "Cropping2D", "Cropping3D")
def _cropping(ctx: Context) -> TorchLayer:
    stub = ctx.setup()
    parts = ", ".join(":" if s == slice(None) else f"{s.start or ''}:{s.stop}" for s in stub.crop)
    return TorchLayer(steps=[Step(f"{{x}}[{parts}]")])


@emits("UpSampling1D", "UpSampling2D", "UpSampling3D")
def _up_sampling(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    if getattr(cfg, "interpolation", "nearest") == "bilinear":
        # Keras's bilinear is TensorFlow's resize: half-pixel centres, no antialiasing
        return TorchLayer(module=ctor("nn.Upsample", [("scale_factor", unwrap(tuple(cfg.factors)), False),
                                                      ("mode", "bilinear", False)]), steps=[Step("{m}({x})")])
    steps = [Step(f"{{x}}.repeat_interleave({{0}}, dim={cfg.spatial_dim + index})", (factor,), ("size",))
             for index, factor in enumerate(cfg.factors) if factor > 1]
    return TorchLayer(steps=steps)
