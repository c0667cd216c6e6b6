"""Activation names a spec may use, with Keras 3's meaning.

Backends implement each canonical name; aliases are resolved here so they never have to.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator

_ALIASES = {"swish": "silu", None: "linear", "none": "linear"}

ActivationName = Literal[
    "linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "silu", "relu6", "leaky_relu",
]


def _canonical(value: Any) -> Any:
    if isinstance(value, str):
        value = value.lower()
    return _ALIASES.get(value, value)


Activation = Annotated[
    ActivationName, BeforeValidator(_canonical, json_schema_input_type=Union[ActivationName, Literal["swish"], None])
]
"""An activation name; `swish` reads as `silu`, null as `linear`."""

# Keras 3 defaults of the parametrised activations, used by both backends.
LEAKY_RELU_SLOPE = 0.2
ELU_ALPHA = 1.0
