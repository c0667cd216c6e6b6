"""One nn.Module per layer type, computing exactly what Keras computes.

Image tensors of a channels_last spec are kept NCHW inside the model (PyTorch's fast
path); each module says which layout it needs (`layout`):

- "image": NCHW for rank-4 inputs (convolutions, pooling, padding, channel batch-norm)
- "any":   elementwise, either layout will do
- "spec":  the spec's own layout (Flatten order, Dense on the last axis, Reshape, softmax)

Weights live in PyTorch's layout; `neutral()` / `load_neutral()` convert to and from
Keras's layout (the neutral weights file).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archspec.layers import Layer
from archspec.layers.activations import ELU_ALPHA, LEAKY_RELU_SLOPE
from archspec.layers.base import DataFormat, Shape, keras_axis, same_padding, spatial
from archspec.layers.initializers import distribution

MODULES: dict[str, Callable[..., "ArchspecLayer"]] = {}


def module(type_name: str):
    def decorate(cls):
        MODULES[type_name] = cls
        return cls

    return decorate


def activation_fn(name: str, channel_dim: int = -1) -> Callable[[torch.Tensor], torch.Tensor]:
    return {
        "linear": lambda x: x,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
        "softmax": lambda x: torch.softmax(x, dim=channel_dim),
        "tanh": torch.tanh,
        "elu": lambda x: F.elu(x, ELU_ALPHA),
        "selu": F.selu,
        "gelu": F.gelu,  # exact (erf), Keras 3's default
        "silu": F.silu,
        "relu6": F.relu6,
        "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_RELU_SLOPE),
    }[name]


def init_tensor(initializer: str, keras_shape: Shape) -> torch.Tensor:
    """A tensor in Keras's layout drawn from the Keras initializer, with torch's RNG."""
    kind, value = distribution(initializer, keras_shape)
    tensor = torch.empty(keras_shape)
    if kind == "constant":
        return tensor.fill_(value)
    if kind == "uniform":
        return tensor.uniform_(-value, value)
    if kind == "normal":
        return tensor.normal_(0.0, value)
    return nn.init.trunc_normal_(tensor, 0.0, value, -2 * value, 2 * value)


class ArchspecLayer(nn.Module):
    layout = "any"

    def __init__(self, cfg: Layer, input_shapes: list[Shape], data_format: DataFormat):
        super().__init__()
        self.cfg = cfg
        self.data_format = data_format
        self.input_shapes = input_shapes

    # weights in Keras's layout: name -> (parameter or buffer, to_neutral, from_neutral)
    def neutral(self) -> dict[str, np.ndarray]:
        return {}

    def load_neutral(self, weights: dict[str, np.ndarray]) -> None:
        pass

    def extra_repr(self) -> str:
        return self.cfg.type_name


def _copy(target: torch.Tensor, array: np.ndarray) -> None:
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)))


def _np(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32, copy=True)


@module("Conv2D")
class Conv2D(ArchspecLayer):
    layout = "image"

    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        (h, w), channels = spatial(input_shapes[0], data_format)
        kh, kw = cfg.kernel_size
        self.weight = nn.Parameter(init_tensor(cfg.kernel_initializer, (kh, kw, channels // cfg.groups, cfg.filters))
                                   .permute(3, 2, 0, 1).contiguous())
        self.bias = nn.Parameter(init_tensor(cfg.bias_initializer, (cfg.filters,))) if cfg.use_bias else None
        self.stride, self.dilation, self.groups = cfg.strides, cfg.dilation_rate, cfg.groups
        self.padding: tuple[int, int] = (0, 0)
        self.pad: tuple[int, int, int, int] | None = None
        if cfg.padding == "same":
            top, bottom = same_padding(h, kh, cfg.strides[0], cfg.dilation_rate[0])
            left, right = same_padding(w, kw, cfg.strides[1], cfg.dilation_rate[1])
            if top == bottom and left == right:
                self.padding = (top, left)
            else:
                self.pad = (left, right, top, bottom)
        # Keras's softmax is over the last axis of the spec's layout: channels (dim 1 here) or width
        self.act = activation_fn(cfg.activation, 1 if data_format == "channels_last" else -1)

    def pre_activation(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x):
        return self.act(self.pre_activation(x))

    def neutral(self):
        out = {"kernel": _np(self.weight.permute(2, 3, 1, 0))}
        if self.bias is not None:
            out["bias"] = _np(self.bias)
        return out

    def load_neutral(self, weights):
        _copy(self.weight, np.transpose(weights["kernel"], (3, 2, 0, 1)))
        if self.bias is not None:
            _copy(self.bias, weights["bias"])


@module("Dense")
class Dense(ArchspecLayer):
    layout = "spec"

    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        fan_in = input_shapes[0][-1]
        self.weight = nn.Parameter(init_tensor(cfg.kernel_initializer, (fan_in, cfg.units)).t().contiguous())
        self.bias = nn.Parameter(init_tensor(cfg.bias_initializer, (cfg.units,))) if cfg.use_bias else None
        self.act = activation_fn(cfg.activation, -1)

    def pre_activation(self, x):
        return F.linear(x, self.weight, self.bias)

    def forward(self, x):
        return self.act(F.linear(x, self.weight, self.bias))

    def neutral(self):
        out = {"kernel": _np(self.weight.t())}
        if self.bias is not None:
            out["bias"] = _np(self.bias)
        return out

    def load_neutral(self, weights):
        _copy(self.weight, weights["kernel"].T)
        if self.bias is not None:
            _copy(self.bias, weights["bias"])


class _Pool(ArchspecLayer):
    layout = "image"

    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        (h, w), _ = spatial(input_shapes[0], data_format)
        self.kernel, self.stride = cfg.pool_size, cfg.effective_strides
        self.pad = None
        if cfg.padding == "same":
            top, bottom = same_padding(h, self.kernel[0], self.stride[0])
            left, right = same_padding(w, self.kernel[1], self.stride[1])
            if top + bottom + left + right:
                self.pad = (left, right, top, bottom)


@module("MaxPooling2D")
class MaxPooling2D(_Pool):
    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad, value=-math.inf)
        return F.max_pool2d(x, self.kernel, self.stride)


@module("AveragePooling2D")
class AveragePooling2D(_Pool):
    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        if self.pad is not None:
            # Keras averages over the real pixels only: divide window sums by their real-pixel count
            (h, w), _ = spatial(input_shapes[0], data_format)
            ones = F.pad(torch.ones(1, 1, h, w), self.pad)
            counts = F.avg_pool2d(ones, self.kernel, self.stride) * (self.kernel[0] * self.kernel[1])
            self.register_buffer("scale", (self.kernel[0] * self.kernel[1]) / counts, persistent=False)

    def forward(self, x):
        if self.pad is None:
            return F.avg_pool2d(x, self.kernel, self.stride)
        return F.avg_pool2d(F.pad(x, self.pad), self.kernel, self.stride) * self.scale


@module("GlobalAveragePooling2D")
class GlobalAveragePooling2D(ArchspecLayer):
    layout = "image"

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=self.cfg.keepdims)


@module("GlobalMaxPooling2D")
class GlobalMaxPooling2D(ArchspecLayer):
    layout = "image"

    def forward(self, x):
        return x.amax(dim=(2, 3), keepdim=self.cfg.keepdims)


@module("Flatten")
class Flatten(ArchspecLayer):
    layout = "spec"

    def forward(self, x):
        return x.flatten(1)


@module("Reshape")
class Reshape(ArchspecLayer):
    layout = "spec"

    def forward(self, x):
        return x.reshape(x.shape[0], *self.cfg.target_shape)


@module("Dropout")
class Dropout(ArchspecLayer):
    def forward(self, x):
        return F.dropout(x, self.cfg.rate, self.training) if self.cfg.rate > 0 else x


@module("Activation")
class Activation(ArchspecLayer):
    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        if cfg.activation == "softmax":
            self.layout = "spec"  # over the spec's last axis
        self.act = activation_fn(cfg.activation, -1)

    def pre_activation(self, x):
        return x

    def forward(self, x):
        return self.act(x)


@module("Rescaling")
class Rescaling(ArchspecLayer):
    def forward(self, x):
        return x * self.cfg.scale + self.cfg.offset


@module("ZeroPadding2D")
class ZeroPadding2D(ArchspecLayer):
    layout = "image"

    def forward(self, x):
        (top, bottom), (left, right) = self.cfg.padding
        return F.pad(x, (left, right, top, bottom))


@module("Add")
class Add(ArchspecLayer):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


@module("Concatenate")
class Concatenate(ArchspecLayer):
    layout = "spec"

    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        self.axis = keras_axis(cfg.axis, len(input_shapes[0])) + 1
        rank = len(input_shapes[0])
        if rank == 3 and data_format == "channels_last" and self.axis == 3:
            self.layout = "image"  # the channel axis: concatenate NCHW tensors along dim 1
            self.axis = 1

    def forward(self, *xs):
        return torch.cat(xs, dim=self.axis)


@module("BatchNormalization")
class BatchNormalization(ArchspecLayer):
    """Keras's batch norm: biased batch variance, moving = moving * momentum + batch * (1 - momentum)."""

    def __init__(self, cfg, input_shapes, data_format):
        super().__init__(cfg, input_shapes, data_format)
        shape = input_shapes[0]
        axis = cfg.feature_axis(shape)
        rank = len(shape)
        if rank == 3 and data_format == "channels_last" and axis == 2:
            self.layout, self.dim = "image", 1
        else:
            self.layout, self.dim = "spec", axis + 1
        n = shape[axis]
        self.weight = nn.Parameter(init_tensor(cfg.gamma_initializer, (n,))) if cfg.scale else None
        self.bias = nn.Parameter(init_tensor(cfg.beta_initializer, (n,))) if cfg.center else None
        self.register_buffer("running_mean", init_tensor(cfg.moving_mean_initializer, (n,)))
        self.register_buffer("running_var", init_tensor(cfg.moving_variance_initializer, (n,)))

    def forward(self, x):
        moved = self.dim != 1
        if moved:
            x = x.movedim(self.dim, 1)
        if self.training and self.cfg.trainable:
            dims = [d for d in range(x.dim()) if d != 1]
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, unbiased=False)
            with torch.no_grad():
                m = self.cfg.momentum
                self.running_mean.mul_(m).add_(mean.detach(), alpha=1 - m)
                self.running_var.mul_(m).add_(var.detach(), alpha=1 - m)
            view = [1, -1] + [1] * (x.dim() - 2)
            y = (x - mean.view(view)) * torch.rsqrt(var.view(view) + self.cfg.epsilon)
            if self.weight is not None:
                y = y * self.weight.view(view)
            if self.bias is not None:
                y = y + self.bias.view(view)
        else:
            y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                             self.cfg.epsilon)
        return y.movedim(1, self.dim) if moved else y

    def neutral(self):
        out = {}
        if self.weight is not None:
            out["gamma"] = _np(self.weight)
        if self.bias is not None:
            out["beta"] = _np(self.bias)
        out["moving_mean"] = _np(self.running_mean)
        out["moving_variance"] = _np(self.running_var)
        return out

    def load_neutral(self, weights):
        if self.weight is not None:
            _copy(self.weight, weights["gamma"])
        if self.bias is not None:
            _copy(self.bias, weights["beta"])
        _copy(self.running_mean, weights["moving_mean"])
        _copy(self.running_var, weights["moving_variance"])
