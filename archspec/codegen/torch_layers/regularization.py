"""Regularization: dropout and noise, active in training only (nn.Module.train/eval)."""

from __future__ import annotations

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.helpers import HELPERS


def _noise_shape(ctx: Context) -> list | None:
    """Keras's noise_shape in the layout the forward holds the tensor in."""
    if ctx.cfg.noise_shape is None:
        return None
    shape = list(ctx.cfg.noise_shape)
    if ctx.inside and len(shape) > 2:  # noise_shape is in the spec's layout (channels last)
        shape = [shape[0], shape[-1], *shape[1:-1]]
    return shape


@emits("Dropout")
def _dropout(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shape = _noise_shape(ctx)
    if shape is not None:
        return TorchLayer(module=("SharedDropout({0}, {1})", (cfg.rate, shape), ("rate", "noise_shape")),
                          steps=[Step("{m}({x})")], helpers=("SharedDropout",))
    return TorchLayer(module=ctor("nn.Dropout", [("p", cfg.rate, True)]), steps=[Step("{m}({x})")])


@emits("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
def _spatial_dropout(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    # as archspec's torch_setup: Keras's SpatialDropout1D has no data_format (channels always last)
    channels_first = ctx.inside or (ctx.data_format == "channels_first" and cfg.rank > 1)
    cls = {1: "nn.Dropout1d", 2: "nn.Dropout2d", 3: "nn.Dropout3d"}[cfg.rank]
    step = Step("{m}({x})")
    if not channels_first:
        step = Step("{m}({x}.movedim(-1, 1)).movedim(1, -1)",
                    comment=f"{cls} drops whole channels of dim 1; these channels are last")
    return TorchLayer(module=ctor(cls, [("p", cfg.rate, True)]), steps=[step])


@emits("ActivityRegularization")
def _activity(ctx: Context) -> TorchLayer:
    return TorchLayer()  # a loss term in training; the identity in the forward


HELPERS["GaussianNoise"] = '''class GaussianNoise(nn.Module):
    """Keras's GaussianNoise: adds N(0, stddev^2) noise in training, the identity in eval."""

    def __init__(self, stddev):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        if not self.training or self.stddev == 0:
            return x
        return x + torch.randn_like(x) * self.stddev
'''

HELPERS["GaussianDropout"] = '''class GaussianDropout(nn.Module):
    """Keras's GaussianDropout: multiplies by N(1, rate / (1 - rate)) noise in training, the
    identity in eval."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + torch.randn_like(x) * stddev)
'''

HELPERS["SharedAlphaDropout"] = '''class SharedAlphaDropout(SharedDropout):
    """Keras's AlphaDropout with noise_shape: nn.AlphaDropout's function, with one draw shared
    along the axes where noise_shape is 1."""

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = self.keep(x)
        alpha = -1.6732632423543772 * 1.0507009873554805  # SELU's negative saturation
        a = ((1 - self.rate) * (1 + self.rate * alpha**2)) ** -0.5
        b = -a * alpha * self.rate
        return a * (x * keep + alpha * (1 - keep)) + b
'''


@emits("GaussianNoise")
def _gaussian_noise(ctx: Context) -> TorchLayer:
    return TorchLayer(module=ctor("GaussianNoise", [("stddev", ctx.cfg.stddev, True)]), steps=[Step("{m}({x})")],
                      helpers=("GaussianNoise",))


@emits("GaussianDropout")
def _gaussian_dropout(ctx: Context) -> TorchLayer:
    return TorchLayer(module=ctor("GaussianDropout", [("rate", ctx.cfg.rate, True)]), steps=[Step("{m}({x})")],
                      helpers=("GaussianDropout",))


@emits("AlphaDropout")
def _alpha_dropout(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    shape = _noise_shape(ctx)
    if shape is not None:
        return TorchLayer(module=ctor("SharedAlphaDropout", [("rate", cfg.rate, True), ("noise_shape", shape, True)]),
                          steps=[Step("{m}({x})")], helpers=("SharedDropout", "SharedAlphaDropout"))
    # nn.AlphaDropout computes Keras's AlphaDropout (SELU's constants, the same scale and shift)
    return TorchLayer(module=ctor("nn.AlphaDropout", [("p", cfg.rate, True)]), steps=[Step("{m}({x})")])
