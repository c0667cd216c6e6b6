"""Keras layers from layer configs: `keras.layers.<Type>(**config)`, with the few
translations every type shares. A layer type that needs more overrides `keras_layer`."""

from __future__ import annotations

import contextvars
import inspect
from functools import lru_cache
from typing import Any

import keras

from archspec.layers import Layer
from archspec.layers.base import DataFormat

# tf2onnx has no ONNX op for TensorFlow's Erfc, which Keras's exact GELU uses; for export,
# GELU is built from Erf, the same function (to float rounding) that ONNX can express.
FOR_EXPORT: contextvars.ContextVar[bool] = contextvars.ContextVar("for_export", default=False)


def _gelu_erf(x):
    return 0.5 * x * (1.0 + keras.ops.erf(x * 0.7071067811865476))


def activation(name: str):
    return _gelu_erf if name == "gelu" and FOR_EXPORT.get() else name


def initializer(name: Any):
    """Keras 3 objects for archspec's initializer names (`uniform`/`normal` are Keras 1's)."""
    if name == "uniform":
        return keras.initializers.RandomUniform(-0.05, 0.05)
    if name == "normal":
        return keras.initializers.RandomNormal(0.0, 0.05)
    return name


@lru_cache(maxsize=None)
def _accepts(keras_class: type, argument: str) -> bool:
    return argument in inspect.signature(keras_class.__init__).parameters


def keras_class(type_name: str) -> type:
    return getattr(keras.layers, type_name)


def keras_kwargs(cfg: Layer, data_format: DataFormat, cls: type) -> dict[str, Any]:
    kwargs = cfg.keras_config(data_format)
    for key, value in kwargs.items():
        if key.endswith("_initializer"):
            kwargs[key] = initializer(value)
        elif key == "activation":
            kwargs[key] = activation(value)
    if _accepts(cls, "data_format") and "data_format" not in kwargs:
        kwargs["data_format"] = data_format
    return kwargs


def generic_layer(cfg: Layer, data_format: DataFormat, name: str):
    cls = keras_class(cfg.type_name)
    return cls(**keras_kwargs(cfg, data_format, cls), name=name)
