"""Normalization: nn.BatchNormNd with Keras's epsilon and momentum, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
F.normalize, and Keras's Normalization (fixed statistics)."""

from __future__ import annotations

import numpy as np

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.helpers import HELPERS


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
    module, helpers = _without(ctor(f"nn.{cls}", args), cfg.scale, cfg.center)
    steps = [Step("{m}({x})")]
    if stub.dim != 1:
        steps = [Step("{m}({x}.movedim({0}, 1)).movedim(1, {0})", (stub.dim,), ("dim",),
                      "nn.BatchNorm normalizes dim 1; Keras's axis is elsewhere")]
    return TorchLayer(module=module, steps=steps, module_class=cls, helpers=helpers, weights={
        "gamma": ("weight", None), "beta": ("bias", None), "moving_mean": ("running_mean", None),
        "moving_variance": ("running_var", None)})


HELPERS["CenteredGroupNorm"] = '''class CenteredGroupNorm(nn.GroupNorm):
    """nn.GroupNorm with a bias and no weight (Keras's center without scale), the bias added
    apart: torch's CPU group_norm backward fails on a bias without a weight."""

    def __init__(self, num_groups, num_channels, eps=1e-05):
        super().__init__(num_groups, num_channels, eps)
        self.weight = None

    def forward(self, x):
        y = F.group_norm(x.contiguous(), self.num_groups, None, None, self.eps)
        return y + self.bias.view(-1, *[1] * (x.dim() - 2))
'''

HELPERS["RMSNormalization"] = '''class RMSNormalization(nn.Module):
    """Keras's RMSNormalization over `dims` that are not the trailing ones: its scale still
    multiplies by broadcasting against the last axes, as Keras does."""

    def __init__(self, shape, dims, eps=1e-06):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shape))
        self.dims = dims
        self.eps = eps

    def forward(self, x):
        mean_square = torch.mean(torch.square(x), dim=self.dims, keepdim=True)
        return x * torch.rsqrt(mean_square + self.eps) * self.weight
'''

HELPERS["RMSScaling"] = '''class RMSScaling(nn.Module):
    """Keras's LayerNormalization(rms_scaling=True): x * rsqrt(variance + eps) * gamma over
    `dims`, the variance taken about the mean but the mean not subtracted."""

    def __init__(self, shape, dims, eps=1e-03):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shape))
        self.dims = dims
        self.eps = eps

    def forward(self, x):
        variance = torch.var(x, dim=self.dims, correction=0, keepdim=True)
        return x * (torch.rsqrt(variance + self.eps) * self.weight)
'''

HELPERS["standardize"] = '''def standardize(x, mean, variance, invert=False):
    """Keras's Normalization: (x - mean) / max(sqrt(variance), 1e-7); invert: mean + x * std."""
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
    variance = torch.as_tensor(variance, dtype=x.dtype, device=x.device)
    std = torch.clamp(torch.sqrt(variance), min=1e-7)
    return mean + x * std if invert else (x - mean) / std
'''

HELPERS["Normalization"] = '''class Normalization(nn.Module):
    """Keras's Normalization with adapted statistics: mean and variance as buffers shaped to
    broadcast over the input; count is kept for the weights file, never read."""

    def __init__(self, shape, invert=False):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("variance", torch.ones(shape))
        self.register_buffer("count", torch.zeros(()))
        self.invert = invert

    def forward(self, x):
        return standardize(x, self.mean, self.variance, self.invert)
'''


def _without(module: tuple[str, tuple, tuple], scale: bool, center: bool) -> tuple[tuple[str, tuple, tuple], tuple]:
    """Keras without scale has no gamma (without center no beta): the module loses that parameter."""
    if scale == center:
        return module, ()
    template, values, hints = module
    missing = "weight" if not scale else "bias"
    return (f"without({template}, {{{len(values)}}})", (*values, missing), (*hints, "without")), ("without",)


def _one(values: tuple):
    """An int for one axis, a tuple for several."""
    return values[0] if len(values) == 1 else tuple(values)


def _last_as_minus_one(dims: list[int], rank: int):
    """`dim=-1` for the last axis alone, as one writes it; the dims as they are otherwise."""
    return -1 if list(dims) == [rank] else _one(tuple(dims))


def _broadcast(view: tuple) -> tuple:
    """A batched broadcast shape without the batch axis and the leading ones."""
    shape = list(view[1:])
    while shape and shape[0] == 1:
        shape.pop(0)
    return tuple(shape)


@emits("LayerNormalization")
def _layer_norm(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    if cfg.rms_scaling:
        args = [("shape", _broadcast(stub.view), True), ("dims", _one(tuple(stub.dims)), True),
                ("eps", cfg.epsilon, False)]
        return TorchLayer(module=ctor("RMSScaling", args), steps=[Step("{m}({x})")], module_class="RMSScaling",
                          weights={"gamma": ("weight", None)}, helpers=("RMSScaling",))
    args = [("normalized_shape", _one(stub.normalized_shape), True), ("eps", cfg.epsilon, False)]
    if not (cfg.scale or cfg.center):
        args.append(("elementwise_affine", False, False))
    elif not cfg.center:
        args.append(("bias", False, False))
    module, helpers = ctor("nn.LayerNorm", args), ()
    if cfg.center and not cfg.scale:
        module, helpers = _without(module, cfg.scale, cfg.center)
    steps = [Step("{m}({x})")]
    if not stub.fused:
        dims = _one(tuple(stub.dims))
        trailing = _one(tuple(range(-len(stub.dims), 0)))
        steps = [Step("{m}({x}.movedim({0}, {1})).movedim({1}, {0})", (dims, trailing), ("dims", "trailing"),
                      "nn.LayerNorm normalizes the last dims; Keras's axes are elsewhere")]
    return TorchLayer(module=module, steps=steps, module_class="LayerNorm", helpers=helpers,
                      weights={"gamma": ("weight", None), "beta": ("bias", None)})


@emits("GroupNormalization")
def _group_norm(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    stub = ctx.setup()
    shape = ctx.node.input_shapes[0]
    args = [("num_groups", stub.groups, True), ("num_channels", shape[cfg.channel_axis(shape)], True),
            ("eps", cfg.epsilon, False)]
    if cfg.center and not cfg.scale:
        return TorchLayer(module=ctor("CenteredGroupNorm", args), steps=[Step("{m}({x})")] if stub.dim == 1 else [
            Step("{m}({x}.movedim({0}, 1)).movedim(1, {0})", (stub.dim,), ("dim",),
                 "nn.GroupNorm's channels are dim 1; Keras's axis is elsewhere")],
            module_class="CenteredGroupNorm", weights={"beta": ("bias", None)}, helpers=("CenteredGroupNorm",))
    if not (cfg.scale or cfg.center):
        args.append(("affine", False, False))
    module, helpers = _without(ctor("nn.GroupNorm", args), cfg.scale, cfg.center)
    if len(shape) < 2:
        steps = [Step("{m}({x})")]
    elif stub.dim == 1:
        steps = [Step("{m}({x}.contiguous())",
                      comment="contiguous: torch's CPU group_norm backward crashes on other strides")]
    else:
        steps = [Step("{m}({x}.movedim({0}, 1).contiguous()).movedim(1, {0})", (stub.dim,), ("dim",),
                      "nn.GroupNorm wants channels on dim 1, contiguous (its CPU backward crashes)")]
    return TorchLayer(module=module, steps=steps, module_class="GroupNorm", helpers=helpers,
                      weights={"gamma": ("weight", None), "beta": ("bias", None)})


@emits("UnitNormalization")
def _unit_norm(ctx: Context) -> TorchLayer:
    dims = _last_as_minus_one(ctx.setup().dims, len(ctx.node.input_shapes[0]))
    return TorchLayer(steps=[Step("F.normalize({x}, dim={0})", (dims,), ("dim",))])


@emits("RMSNormalization")
def _rms_norm(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shape = ctx.node.input_shapes[0]
    dims = ctx.setup().dims
    scale = cfg.scale_shape(shape)
    trailing = tuple(shape[len(shape) - len(dims):])
    weights = {"scale": ("weight", None)}
    if list(dims) == list(range(len(shape) + 1 - len(dims), len(shape) + 1)) and tuple(scale) == trailing:
        args = [("normalized_shape", _one(trailing), True), ("eps", cfg.epsilon, False)]
        return TorchLayer(module=ctor("nn.RMSNorm", args), steps=[Step("{m}({x})")], module_class="RMSNorm",
                          weights=weights)
    args = [("shape", _one(tuple(scale)), True), ("dims", _one(tuple(dims)), True), ("eps", cfg.epsilon, False)]
    return TorchLayer(module=ctor("RMSNormalization", args), steps=[Step("{m}({x})")],
                      module_class="RMSNormalization", weights=weights, helpers=("RMSNormalization",))


def _statistic(value, cfg, shape: tuple, inside: bool):
    """A mean or variance of the config as a literal that broadcasts over the input as the forward
    holds it: right-aligned with the kept axes, as Keras lays it."""
    array = np.asarray(value, dtype=np.float64)
    kept, expanded = cfg.kept_axes(shape), [1] * len(shape)
    for i in range(1, array.ndim + 1):
        expanded[kept[-i]] = array.shape[-i]
    array = array.reshape(expanded)
    if inside:
        array = np.moveaxis(array, -1, 0)
    while array.ndim and array.shape[0] == 1:
        array = array[0]
    return array.tolist()


@emits("Normalization")
def _normalization(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shape = ctx.node.input_shapes[0]
    invert = ", invert=True" if cfg.invert else ""
    if cfg.mean is not None:
        mean, variance = (_statistic(v, cfg, shape, ctx.inside) for v in (cfg.mean, cfg.variance))
        return TorchLayer(steps=[Step(f"standardize({{x}}, {{0}}, {{1}}{invert})", (mean, variance),
                                      ("mean", "variance"))], helpers=("standardize",))
    stats = _broadcast(cfg.view(shape))
    args = [("shape", stats, True)] + ([("invert", True, False)] if cfg.invert else [])
    steps = [Step("{m}({x})")]
    if ctx.inside and stats:
        steps = [Step("{m}({x}.movedim(1, -1)).movedim(-1, 1)", comment="the statistics are laid out channels last")]
    return TorchLayer(module=ctor("Normalization", args), steps=steps, module_class="Normalization",
                      weights={"mean": ("mean", None), "variance": ("variance", None), "count": ("count", None)},
                      helpers=("standardize", "Normalization"))
