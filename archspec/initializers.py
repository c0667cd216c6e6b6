"""Initializer names a spec may use, with Keras 3's distributions.

`uniform` and `normal` are the Keras 1 initializers of the seed notebooks (±0.05 and
stddev 0.05), which Keras 3 spells RandomUniform() and RandomNormal().
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BeforeValidator

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

InitializerName = Literal[
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "uniform", "normal", "zeros", "ones", "orthogonal",
]
_ALIASES = {
    "random_uniform": "uniform", "random_normal": "normal", "zero": "zeros", "one": "ones",
    "xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
}


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        value = value.lower()
    return _ALIASES.get(value, value)


Initializer = Annotated[
    InitializerName,
    BeforeValidator(_canonical, json_schema_input_type=Union[InitializerName, Literal[tuple(_ALIASES)]]),
]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's fan_in/fan_out: receptive field times in/out channels for a conv kernel."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


UNIT_FORGET_BIAS = "unit_forget_bias:"  # + the bias initializer: Keras LSTM's bias with its forget gate at 1


def parts(name: str, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """(initializer, shape) pieces that, drawn one by one and concatenated on the first axis,
    give the weight: one piece, except for initializers Keras composes from several draws."""
    if name.startswith(UNIT_FORGET_BIAS):  # Keras LSTMCell: inner(units), ones(units), inner(2 units)
        inner, units = name[len(UNIT_FORGET_BIAS):], shape[0] // 4
        return [(inner, (units,)), ("ones", (units,)), (inner, (2 * units,))]
    return [(name, shape)]


def orthogonal(normal: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Keras's Orthogonal (gain 1) from a standard normal draw of `orthogonal_draw_shape(shape)`:
    the Q of its QR decomposition, signs fixed by R's diagonal, transposed for wide shapes."""
    import numpy as np

    q, r = np.linalg.qr(normal)
    q = q * np.sign(np.diag(r))
    rows = math.prod(shape[:-1])
    if rows < shape[-1]:
        q = q.T
    return q.reshape(shape)


def orthogonal_draw_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"the orthogonal initializer needs a weight of rank 2 or more, got shape {tuple(shape)}")
    rows, cols = math.prod(shape[:-1]), shape[-1]
    return max(rows, cols), min(rows, cols)


def distribution(name: str, shape: tuple[int, ...]) -> tuple[str, float]:
    """('uniform', limit) | ('truncated_normal', stddev) | ('normal', stddev) | ('constant', value)
    | ('orthogonal', gain) (see `orthogonal`)."""
    fan_in, fan_out = fans(shape)
    if name == "orthogonal":
        return "orthogonal", 1.0
    if name.startswith("constant:"):  # a fixed fill a layer computes, e.g. LayerScale's init_values
        return "constant", float(name.split(":", 1)[1])
    if name == "zeros":
        return "constant", 0.0
    if name == "ones":
        return "constant", 1.0
    if name == "uniform":
        return "uniform", 0.05
    if name == "normal":
        return "normal", 0.05
    scale, fan = {
        "glorot": (1.0, (fan_in + fan_out) / 2.0),
        "he": (2.0, fan_in),
        "lecun": (1.0, fan_in),
    }[name.split("_")[0]]
    variance = scale / max(1.0, fan)
    if name.endswith("_uniform"):
        return "uniform", math.sqrt(3.0 * variance)
    # VarianceScaling's truncated normal, corrected for the truncation at two stddevs
    return "truncated_normal", math.sqrt(variance) / 0.87962566103423978
