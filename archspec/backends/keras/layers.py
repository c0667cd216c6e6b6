"""One factory per layer type: archspec layer config -> keras.layers object."""

from __future__ import annotations

import contextvars
from typing import Callable

import keras

from archspec.layers import Layer
from archspec.layers.base import DataFormat

FACTORIES: dict[str, Callable[[Layer, DataFormat, str], keras.layers.Layer]] = {}

# tf2onnx has no ONNX op for TensorFlow's Erfc, which Keras's exact GELU uses; for export,
# GELU is built from Erf, the same function (to float rounding) that ONNX can express.
FOR_EXPORT: contextvars.ContextVar[bool] = contextvars.ContextVar("for_export", default=False)


def _gelu_erf(x):
    return 0.5 * x * (1.0 + keras.ops.erf(x * 0.7071067811865476))


def activation(name: str):
    return _gelu_erf if name == "gelu" and FOR_EXPORT.get() else name


def factory(type_name: str):
    def decorate(fn):
        FACTORIES[type_name] = fn
        return fn

    return decorate


def initializer(name: str):
    """Keras 3 objects for archspec's initializer names (`uniform`/`normal` are Keras 1's)."""
    if name == "uniform":
        return keras.initializers.RandomUniform(-0.05, 0.05)
    if name == "normal":
        return keras.initializers.RandomNormal(0.0, 0.05)
    return name


@factory("Conv2D")
def _conv2d(cfg, data_format, name):
    return keras.layers.Conv2D(
        cfg.filters, cfg.kernel_size, strides=cfg.strides, padding=cfg.padding, dilation_rate=cfg.dilation_rate,
        groups=cfg.groups, activation=activation(cfg.activation), use_bias=cfg.use_bias, data_format=data_format,
        kernel_initializer=initializer(cfg.kernel_initializer), bias_initializer=initializer(cfg.bias_initializer),
        name=name,
    )


@factory("Dense")
def _dense(cfg, data_format, name):
    return keras.layers.Dense(
        cfg.units, activation=activation(cfg.activation), use_bias=cfg.use_bias, name=name,
        kernel_initializer=initializer(cfg.kernel_initializer), bias_initializer=initializer(cfg.bias_initializer),
    )


@factory("MaxPooling2D")
def _max_pool(cfg, data_format, name):
    return keras.layers.MaxPooling2D(cfg.pool_size, cfg.strides, cfg.padding, data_format=data_format, name=name)


@factory("AveragePooling2D")
def _avg_pool(cfg, data_format, name):
    return keras.layers.AveragePooling2D(cfg.pool_size, cfg.strides, cfg.padding, data_format=data_format, name=name)


@factory("GlobalAveragePooling2D")
def _gap(cfg, data_format, name):
    return keras.layers.GlobalAveragePooling2D(data_format=data_format, keepdims=cfg.keepdims, name=name)


@factory("GlobalMaxPooling2D")
def _gmp(cfg, data_format, name):
    return keras.layers.GlobalMaxPooling2D(data_format=data_format, keepdims=cfg.keepdims, name=name)


@factory("Flatten")
def _flatten(cfg, data_format, name):
    # The spec's Flatten order is the tensor's own memory order, in either data_format.
    return keras.layers.Flatten(data_format="channels_last", name=name)


@factory("Dropout")
def _dropout(cfg, data_format, name):
    return keras.layers.Dropout(cfg.rate, seed=cfg.seed, name=name)


@factory("Activation")
def _activation(cfg, data_format, name):
    return keras.layers.Activation(activation(cfg.activation), name=name)


@factory("BatchNormalization")
def _batch_norm(cfg, data_format, name):
    return keras.layers.BatchNormalization(
        axis=cfg.axis, momentum=cfg.momentum, epsilon=cfg.epsilon, center=cfg.center, scale=cfg.scale,
        beta_initializer=initializer(cfg.beta_initializer), gamma_initializer=initializer(cfg.gamma_initializer),
        moving_mean_initializer=initializer(cfg.moving_mean_initializer),
        moving_variance_initializer=initializer(cfg.moving_variance_initializer), name=name,
    )


@factory("ZeroPadding2D")
def _zero_pad(cfg, data_format, name):
    return keras.layers.ZeroPadding2D(cfg.padding, data_format=data_format, name=name)


@factory("Rescaling")
def _rescaling(cfg, data_format, name):
    return keras.layers.Rescaling(cfg.scale, cfg.offset, name=name)


@factory("Reshape")
def _reshape(cfg, data_format, name):
    return keras.layers.Reshape(tuple(cfg.target_shape), name=name)


@factory("Concatenate")
def _concat(cfg, data_format, name):
    return keras.layers.Concatenate(axis=cfg.axis, name=name)


@factory("Add")
def _add(cfg, data_format, name):
    return keras.layers.Add(name=name)
