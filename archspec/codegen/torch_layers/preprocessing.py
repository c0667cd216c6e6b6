"""Preprocessing layers that live in models."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, emits


@emits("Rescaling")
def _rescaling(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x} * {0} + {1}", (ctx.cfg.scale, ctx.cfg.offset), ("scale", "offset"))])
