"""Merging layers: elementwise arithmetic, concatenation."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, emits


def _join(ctx: Context, op: str) -> str:
    return f" {op} ".join(f"{{x{i}}}" for i in range(ctx.n_inputs))


@emits("Add")
def _add(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step(_join(ctx, "+"))])


@emits("Subtract")
def _subtract(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step(_join(ctx, "-"))])


@emits("Multiply")
def _multiply(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step(_join(ctx, "*"))])


@emits("Average")
def _average(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step(f"({_join(ctx, '+')}) / {ctx.n_inputs}")])


@emits("Maximum", "Minimum")
def _extreme(ctx: Context) -> TorchLayer:
    fn = "torch.maximum" if ctx.cfg.type_name == "Maximum" else "torch.minimum"
    expr = "{x0}"
    for i in range(1, ctx.n_inputs):
        expr = f"{fn}({expr}, {{x{i}}})"
    return TorchLayer(steps=[Step(expr)])


@emits("Concatenate")
def _concatenate(ctx: Context) -> TorchLayer:
    stub = ctx.setup()
    parts = ", ".join(f"{{x{i}}}" for i in range(ctx.n_inputs))
    return TorchLayer(steps=[Step(f"torch.cat([{parts}], dim={{0}})", (stub.dim,), ("dim",))])


@emits("CustomScaleLayer")
def _custom_scale(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("{x0} + {x1} * {0}", (ctx.cfg.scale,), ("scale",))])


@emits("Dot")
def _dot(ctx: Context) -> TorchLayer:
    raise Refused("Dot has no generated PyTorch form yet")
