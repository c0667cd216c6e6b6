"""PyTorch versions of what Keras computes differently from PyTorch's defaults.

Layer modules import this inside their `torch_*` methods, so that the spec core never
imports torch.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from archspec.activations import CELU_ALPHA, ELU_ALPHA, LEAKY_RELU_SLOPE, SHRINK_THRESHOLD, SQUAREPLUS_B
from archspec.initializers import distribution, orthogonal, orthogonal_draw_shape, parts
from archspec.layers.base import Shape, same_padding

Tensor = torch.Tensor


def _hard_sigmoid(x: Tensor) -> Tensor:
    return F.relu6(x + 3.0) / 6.0  # Keras 3: relu6(x + 3) / 6


def _sparse_plus(x: Tensor) -> Tensor:
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x >= 1, x, (x + 1) ** 2 / 4))


def _sparse_sigmoid(x: Tensor) -> Tensor:
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x >= 1, torch.ones_like(x), (x + 1) / 2))


def _sparsemax(x: Tensor, dim: int) -> Tensor:
    """Martins & Astudillo's sparsemax, the closed form Keras uses."""
    z = x - x.amax(dim=dim, keepdim=True)
    z_sorted = torch.sort(z, dim=dim, descending=True).values
    shape = [1] * z.dim()
    shape[dim] = z.shape[dim]
    k = torch.arange(1, z.shape[dim] + 1, dtype=z.dtype, device=z.device).view(shape)
    cumulative = z_sorted.cumsum(dim)
    support = (1 + k * z_sorted > cumulative).to(z.dtype)
    k_z = support.sum(dim=dim, keepdim=True)
    tau = ((z_sorted * support).sum(dim=dim, keepdim=True) - 1) / k_z
    return torch.clamp(z - tau, min=0)


def activation(name: str, dim: int = -1) -> Callable[[Tensor], Tensor]:
    """Keras 3's activation `name`; axis activations (softmax, ...) act along `dim`."""
    table: dict[str, Callable[[Tensor], Tensor]] = {
        "linear": lambda x: x,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
        "softmax": lambda x: torch.softmax(x, dim=dim),
        "log_softmax": lambda x: torch.log_softmax(x, dim=dim),
        "sparsemax": lambda x: _sparsemax(x, dim),
        "glu": lambda x: F.glu(x, dim=dim),
        "tanh": torch.tanh,
        "elu": lambda x: F.elu(x, ELU_ALPHA),
        "celu": lambda x: F.celu(x, CELU_ALPHA),
        "selu": F.selu,
        "gelu": F.gelu,  # exact (erf), Keras 3's default
        "silu": F.silu,
        "relu6": F.relu6,
        "leaky_relu": lambda x: F.leaky_relu(x, LEAKY_RELU_SLOPE),
        "softplus": F.softplus,
        "softsign": F.softsign,
        "squareplus": lambda x: (x + torch.sqrt(x * x + SQUAREPLUS_B)) / 2,
        "soft_shrink": lambda x: F.softshrink(x, SHRINK_THRESHOLD),
        "hard_shrink": lambda x: F.hardshrink(x, SHRINK_THRESHOLD),
        "sparse_plus": _sparse_plus,
        "tanh_shrink": lambda x: x - torch.tanh(x),
        "hard_tanh": lambda x: torch.clamp(x, -1.0, 1.0),
        "exponential": torch.exp,
        "hard_sigmoid": _hard_sigmoid,
        "hard_silu": lambda x: x * _hard_sigmoid(x),
        "log_sigmoid": F.logsigmoid,
        "sparse_sigmoid": _sparse_sigmoid,
        "mish": lambda x: x * torch.tanh(F.softplus(x)),
    }
    return table[name]


def init_tensor(initializer: str, keras_shape: Shape) -> Tensor:
    """A tensor in Keras's layout drawn from the Keras initializer, with torch's RNG."""
    pieces = parts(initializer, keras_shape)
    if len(pieces) > 1:
        return torch.cat([init_tensor(name, shape) for name, shape in pieces])
    kind, value = distribution(initializer, keras_shape)
    if kind == "orthogonal":
        normal = torch.randn(orthogonal_draw_shape(keras_shape), dtype=torch.float64).numpy()
        return torch.from_numpy(value * orthogonal(normal, keras_shape)).float()
    tensor = torch.empty(keras_shape)
    if kind == "constant":
        return tensor.fill_(value)
    if kind == "uniform":
        return tensor.uniform_(-value, value)
    if kind == "normal":
        return tensor.normal_(0.0, value)
    return torch.nn.init.trunc_normal_(tensor, 0.0, value, -2 * value, 2 * value)


def tf_same_padding(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int],
                    dilation: Sequence[int] | None = None) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """TensorFlow's 'same' padding for the spatial axes of a channels-first tensor.

    Returns (symmetric padding for the op, None) when every axis pads evenly, else
    ((0,)*rank, the F.pad tuple) — TensorFlow puts the odd pixel after, PyTorch cannot.
    """
    dilation = dilation or (1,) * len(sizes)
    pairs = [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, window, strides, dilation)]
    if all(before == after for before, after in pairs):
        return tuple(before for before, _ in pairs), None
    return (0,) * len(sizes), pad_tuple(pairs)


def pad_tuple(pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """F.pad's argument (last axis first) from (before, after) pairs in axis order."""
    flat: list[int] = []
    for before, after in reversed(list(pairs)):
        flat += [before, after]
    return tuple(flat)


def count_scale(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int], pad: tuple[int, ...]) -> Tensor:
    """window size / real values per window: averages that leave out TF's 'same' padding."""
    rank = len(sizes)
    ones = F.pad(torch.ones(1, 1, *sizes), pad)
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1]
    counts = pool(ones, tuple(window), tuple(strides)) * math.prod(window)
    return math.prod(window) / counts


def copy_into(target: Tensor, array: np.ndarray) -> None:
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.asarray(array, dtype=np.float32, order="C")))


def to_numpy(tensor: Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32, copy=True)


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
