"""Pooling: nn.MaxPoolNd / nn.AvgPoolNd where they compute TensorFlow's windows, global and adaptive pools."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits, unwrap
from archspec.layers.base import same_padding, spatial


def _pairs(ctx: Context):
    dims, _ = spatial(ctx.node.input_shapes[0], ctx.data_format)
    return [same_padding(n, k, s) for n, k, s in zip(dims, ctx.cfg.pool_size, ctx.cfg.strides)]


@emits("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def _pool(ctx: Context) -> TorchLayer:
    cfg, rank = ctx.cfg, ctx.cfg.rank
    kind = "Max" if cfg.reduction == "max" else "Avg"
    args = [("kernel_size", unwrap(cfg.pool_size), True)]
    if cfg.strides != cfg.pool_size:
        args.append(("stride", unwrap(cfg.strides), False))
    pairs = _pairs(ctx) if cfg.padding == "same" else []
    even = all(a == b and a <= k // 2 for (a, b), k in zip(pairs, cfg.pool_size))
    steps: list[Step] = []
    if pairs and any(map(sum, pairs)):
        if even:
            args.append(("padding", unwrap(tuple(a for a, _ in pairs)), False))
            if kind == "Avg":  # TensorFlow averages over the real values only
                args.append(("count_include_pad", False, False))
        else:
            flat = tuple(v for pair in reversed(pairs) for v in pair)
            if kind == "Max":
                steps.append(Step("F.pad({x}, {0}, value=-math.inf)", (flat,), ("pad",),
                                  "TensorFlow's 'same' padding puts the odd pixel after"))
            else:
                window = (unwrap(cfg.pool_size), unwrap(cfg.strides))
                return TorchLayer(steps=[Step("avg_pool_same({x}, {0}, {1}, {2})", (flat, *window),
                                              ("pad", "kernel_size", "stride"))], helpers=("avg_pool_same",))
    steps.append(Step("{m}({x})"))
    return TorchLayer(module=ctor(f"nn.{kind}Pool{rank}d", args), steps=steps)


@emits("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D",
       "GlobalAveragePooling2D", "GlobalAveragePooling3D")
def _global(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    dims = tuple(range(2, 2 + cfg.rank))
    op = "amax" if cfg.reduction == "max" else "mean"
    keep = ", keepdim=True" if cfg.keepdims else ""
    if ctx.masked and cfg.reduction == "mean":
        return TorchLayer(steps=[Step("{x}.where({mask0}[:, None], 0.0)" f".sum(dim=2{keep})"),
                                 Step(f"{{x}} / {{mask0}}[:, None].sum(dim=2{keep})",
                                      comment="Keras averages over the unmasked steps only")])
    return TorchLayer(steps=[Step(f"{{x}}.{op}(dim={{0}}{keep})", (dims if len(dims) > 1 else dims[0],), ("dim",))])


@emits("AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
       "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D")
def _adaptive(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    kind = "Max" if cfg.reduction == "max" else "Avg"
    # Keras's bins are PyTorch's: [floor(i * n / out), ceil((i + 1) * n / out))
    return TorchLayer(module=ctor(f"nn.Adaptive{kind}Pool{cfg.rank}d", [("output_size", unwrap(cfg.output_size), True)]),
                      steps=[Step("{m}({x})")])
