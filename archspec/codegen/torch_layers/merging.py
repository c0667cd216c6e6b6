"""Merging layers: elementwise arithmetic, concatenation, dot products."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, emits


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


def _einsum(first: int, second: int, dx: int, dy: int) -> str:
    """Keras's batch_dot as an einsum: the summed axis shared, the first input's other axes, then the second's."""
    letters = iter("ijklmnopqrstuvwxyzacdefgh")
    a = [next(letters) for _ in range(first)]
    b = [next(letters) for _ in range(second)]
    b[dy] = a[dx]
    out = [c for k, c in enumerate(a) if k != dx] + [c for k, c in enumerate(b) if k != dy]
    return f"b{''.join(a)},b{''.join(b)}->b{''.join(out)}"


@emits("Dot")
def _dot(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    first, second = (len(s) for s in ctx.node.input_shapes)
    dx, dy = stub.dims
    x0, x1 = "{x0}", "{x1}"
    values, hints = (), ()
    if cfg.normalize:  # Keras floors the norm at 1e-7
        x0, x1 = "F.normalize({x0}, dim={0}, eps=1e-07)", "F.normalize({x1}, dim={1}, eps=1e-07)"
        values, hints = (dx, dy), ("dim0", "dim1")
    if first == second == 2 and (dx, dy) == (2, 1):
        expr = f"torch.matmul({x0}, {x1})"
    else:
        expr = f'torch.einsum("{_einsum(first, second, dx - 1, dy - 1)}", {x0}, {x1})'
        if first == second == 1:  # two vectors: Keras's batch_dot gives (batch, 1)
            expr += ".unsqueeze(1)"
    return TorchLayer(steps=[Step(expr, values, hints)])
