"""Activation names a spec may use: every name of `keras.activations`, with Keras 3's meaning.

Aliases are resolved here so that no backend ever sees them. The formulas live with each
backend (`archspec/backends/torch/ops.py`); Keras computes its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator

_ALIASES = {"swish": "silu", "hard_swish": "hard_silu", None: "linear", "none": "linear"}

ActivationName = Literal[
    "linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "silu", "relu6", "leaky_relu",
    "celu", "softplus", "softsign", "squareplus", "soft_shrink", "sparse_plus", "glu", "tanh_shrink",
    "hard_tanh", "hard_shrink", "exponential", "hard_sigmoid", "log_sigmoid", "sparse_sigmoid", "hard_silu",
    "mish", "log_softmax", "sparsemax",
]

# activations over an axis (Keras's default: the last axis of the tensor as the spec lays it out)
AXIS_ACTIVATIONS = frozenset({"softmax", "log_softmax", "sparsemax", "glu"})


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        value = value.lower()
    try:
        return _ALIASES.get(value, value)
    except TypeError:  # a list or mapping: let the Literal report it
        return value


Activation = Annotated[
    ActivationName,
    BeforeValidator(_canonical, json_schema_input_type=Union[ActivationName, Literal["swish", "hard_swish"], None]),
]
"""An activation name; `swish` reads as `silu`, `hard_swish` as `hard_silu`, null as `linear`."""

# Keras 3 defaults of the parametrised activations, used by every backend.
LEAKY_RELU_SLOPE = 0.2
ELU_ALPHA = 1.0
CELU_ALPHA = 1.0
SHRINK_THRESHOLD = 0.5
SQUAREPLUS_B = 4.0
