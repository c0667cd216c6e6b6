"""keras.applications' own layers."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, emits


@emits("LayerScale")
def _layer_scale(ctx: Context) -> TorchLayer:
    stub = ctx.setup()
    view = tuple(stub.gamma_view)
    expr = "{x} * {m}.gamma" if view == (-1,) else "{x} * {m}.gamma.view({0})"
    return TorchLayer(module=("LayerScale({0})", (ctx.cfg.projection_dim,), ("projection_dim",)),
                      steps=[Step(expr, (view,) if view != (-1,) else (), ("view",))], module_class="LayerScale",
                      weights={"gamma": ("gamma", None)}, helpers=("LayerScale",))
