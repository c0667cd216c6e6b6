"""Activations: the `activation` argument of any layer, and the activation layers."""

from __future__ import annotations

from archspec.activations import AXIS_ACTIVATIONS, CELU_ALPHA, ELU_ALPHA, LEAKY_RELU_SLOPE, SHRINK_THRESHOLD, \
    SQUAREPLUS_B
from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, emits
from archspec.codegen.torch_layers.helpers import HELPERS

# Keras 3's activations as PyTorch expressions of {x}; {0} is the axis of the axis activations
_EXPRESSIONS = {
    "relu": ("F.relu({x})", None),
    "sigmoid": ("torch.sigmoid({x})", None),
    "softmax": ("torch.softmax({x}, dim={0})", None),
    "log_softmax": ("torch.log_softmax({x}, dim={0})", None),
    "glu": ("F.glu({x}, dim={0})", None),
    "tanh": ("torch.tanh({x})", None),
    "elu": (f"F.elu({{x}}, {ELU_ALPHA!r})", None),
    "celu": (f"F.celu({{x}}, {CELU_ALPHA!r})", None),
    "selu": ("F.selu({x})", None),
    "gelu": ("F.gelu({x})", "Keras's gelu is the exact (erf) one, as F.gelu's default"),
    "silu": ("F.silu({x})", None),
    "relu6": ("F.relu6({x})", None),
    "leaky_relu": (f"F.leaky_relu({{x}}, {LEAKY_RELU_SLOPE!r})", None),
    "softplus": ("F.softplus({x})", None),
    "softsign": ("F.softsign({x})", None),
    "squareplus": ("squareplus({x})", None),
    "soft_shrink": (f"F.softshrink({{x}}, {SHRINK_THRESHOLD!r})", None),
    "hard_shrink": (f"F.hardshrink({{x}}, {SHRINK_THRESHOLD!r})", None),
    "tanh_shrink": ("F.tanhshrink({x})", None),
    "hard_tanh": ("torch.clamp({x}, -1.0, 1.0)", None),
    "exponential": ("torch.exp({x})", None),
    "hard_sigmoid": ("F.hardsigmoid({x})", None),  # Keras 3's: relu6(x + 3) / 6, as torch's
    "hard_silu": ("F.hardswish({x})", None),  # Keras 3's: x * relu6(x + 3) / 6, as torch's
    "log_sigmoid": ("F.logsigmoid({x})", None),
    "mish": ("F.mish({x})", None),
    "sparse_plus": ("sparse_plus({x})", None),
    "sparse_sigmoid": ("torch.clamp(({x} + 1) / 2, 0.0, 1.0)", None),
    "sparsemax": ("sparsemax({x}, dim={0})", None),
}
# the expressions that call a definition of the generated file
_DEFINITIONS = {"sparsemax": ("sparsemax",), "squareplus": ("squareplus",), "sparse_plus": ("sparse_plus",)}

HELPERS["squareplus"] = f'''def squareplus(x):
    """Keras's squareplus: (x + sqrt(x^2 + b)) / 2 with b = {SQUAREPLUS_B!r}."""
    return (x + torch.sqrt(x * x + {SQUAREPLUS_B!r})) / 2
'''

HELPERS["sparse_plus"] = '''def sparse_plus(x):
    """Keras's sparse_plus: 0 below -1, x above 1, (x + 1)^2 / 4 between."""
    return torch.where(x <= -1, 0.0, torch.where(x >= 1, x, (x + 1) ** 2 / 4))
'''

HELPERS["sparsemax"] = '''def sparsemax(x, dim=-1):
    """Keras's sparsemax (Martins & Astudillo): x less a threshold, clipped at zero, the
    threshold making each slice along `dim` sum to 1."""
    z = x - x.amax(dim=dim, keepdim=True)
    z_sorted = torch.sort(z, dim=dim, descending=True).values
    shape = [1] * z.dim()
    shape[dim] = -1
    k = torch.arange(1, z.shape[dim] + 1, dtype=z.dtype, device=z.device).view(shape)
    support = (1 + k * z_sorted > z_sorted.cumsum(dim)).to(z.dtype)
    total = (z_sorted * support).sum(dim=dim, keepdim=True)
    tau = (total - 1) / support.sum(dim=dim, keepdim=True)
    return torch.clamp(z - tau, min=0)
'''


HELPERS["softmax_over"] = '''def softmax_over(x, dims):
    """Softmax over several dims at once, as Keras computes it: exp(x - logsumexp(x, dims))."""
    return torch.exp(x - torch.logsumexp(x, dim=dims, keepdim=True))
'''


def activation_steps(name: str, inside: bool) -> list[Step]:
    """Steps applying Keras's activation `name` (nothing for linear); axis activations act on the
    spec's last axis: channels, dim 1, where a channels_last tensor runs channels-first. A name
    that calls a definition of the file (sparsemax) has it written by the writer, which adds
    `activation_helpers` of every activation a layer names."""
    if name == "linear":
        return []
    if name not in _EXPRESSIONS:
        raise Refused(f"activation '{name}' has no generated PyTorch form yet")
    template, comment = _EXPRESSIONS[name]
    values = ((1 if inside else -1),) if name in AXIS_ACTIVATIONS else ()
    return [Step(template, values, ("dim",) * len(values), comment)]


def activation_helpers(name: str) -> tuple[str, ...]:
    """The definitions the file needs for activation `name` (the writer adds them for every layer)."""
    return _DEFINITIONS.get(name, ())


@emits("Activation")
def _activation(ctx: Context) -> TorchLayer:
    name = ctx.cfg.activation
    return TorchLayer(steps=activation_steps(name, ctx.inside))  # the writer adds sparsemax's definition


@emits("Identity")
def _identity(ctx: Context) -> TorchLayer:
    return TorchLayer()


@emits("ReLU")
def _relu(ctx: Context) -> TorchLayer:
    slope, ceiling, threshold = ctx.cfg.negative_slope, ctx.cfg.max_value, ctx.cfg.threshold
    if slope != 0 and ceiling is None and threshold == 0:
        return TorchLayer(steps=[Step("F.leaky_relu({x}, {0})", (slope,), ("negative_slope",))])
    if slope == 0 and threshold == 0:
        if ceiling is None:
            return TorchLayer(steps=[Step("F.relu({x})")])
        return TorchLayer(steps=[Step("torch.clamp({x}, 0.0, {0})", (ceiling,), ("max_value",))])
    return TorchLayer(steps=[Step("keras_relu({x}, {0}, {1}, {2})", (slope, ceiling, threshold),
                                  ("negative_slope", "max_value", "threshold"))], helpers=("keras_relu",))


@emits("PReLU")
def _prelu(ctx: Context) -> TorchLayer:
    # alpha is laid out like the spec's channels_last sample; the tensor runs channels-first here
    alpha = "{m}.alpha.movedim(-1, 0)" if ctx.inside else "{m}.alpha"
    return TorchLayer(module=("PReLU({0})", (tuple(ctx.node.weights[0].shape),), ("alpha_shape",)),
                      steps=[Step(f"F.relu({{x}}) - {alpha} * F.relu(-{{x}})")],
                      module_class="PReLU", weights={"alpha": ("alpha", None)}, helpers=("PReLU",))


@emits("LeakyReLU")
def _leaky_relu(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("F.leaky_relu({x}, {0})", (float(ctx.cfg.negative_slope),), ("negative_slope",))])


@emits("ELU")
def _elu(ctx: Context) -> TorchLayer:
    return TorchLayer(steps=[Step("F.elu({x}, {0})", (float(ctx.cfg.alpha),), ("alpha",))])


@emits("Softmax")
def _softmax(ctx: Context) -> TorchLayer:
    dims = ctx.setup().dims
    if len(dims) == 1:
        return TorchLayer(steps=[Step("torch.softmax({x}, dim={0})", (dims[0],), ("dim",))])
    return TorchLayer(steps=[Step("softmax_over({x}, {0})", (tuple(sorted(dims)),), ("dims",))],
                      helpers=("softmax_over",))
