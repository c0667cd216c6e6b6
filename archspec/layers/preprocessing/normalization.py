"""Normalization (the preprocessing layer)."""

from __future__ import annotations

import types
from typing import Annotated, Union

import numpy as np
from pydantic import Field, model_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.normalization.layer_normalization import Axes, sample_axes
from archspec.layers.registry import register

# keras.config.epsilon(), Keras's floor on the standard deviation in this layer
_STD_FLOOR = 1e-7

Floats = Union[float, list[float], list[list[float]], list[list[list[float]]]]
"""A number or a (nested) list of numbers, like the arrays Keras takes for mean and variance."""


@register("Normalization")
class Normalization(Layer):
    """Standardises its input with fixed statistics, `keras.layers.Normalization`.

    Computes `(x - mean) / max(sqrt(variance), 1e-7)`, or with `invert` the reverse,
    `mean + x * max(sqrt(variance), 1e-7)`, elementwise in float32.

    Without `mean` and `variance` in the config, the statistics are the layer's non-trainable
    weights, as Keras's `adapt()` fills them: `mean` (zeros) and `variance` (ones), with one
    entry per position of the kept axes (the sizes of those axes, in axis order), and `count`,
    a scalar Keras keeps for old saved models and never reads. Keras holds `count` as int64;
    a weights file holds it as float32 like every weight (exact for counts below 2**24).

    With `mean` and `variance` given, they are constants (no weights), each a number or an
    array aligned with the kept axes from the right and broadcast over them, as in Keras.
    archspec's Keras layer is keras.layers.Normalization reading its statistics when called
    (Keras's reads a copy made when built or loaded): assigned weights take effect, and
    tf2onnx exports the statistics as constants instead of extra graph inputs.

    Args:
        axis: the axis or axes kept (one statistic per position along them), counting the batch
            axis like Keras (-1: the last); null: one statistic for everything.
        mean, variance: the statistics, both or neither.
        invert: undo the normalisation instead.

    Input and output shape: the same, any rank.
    """

    # elementwise with broadcast statistics: the forward follows the tensor's layout
    torch_layout_default = "any"
    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({"axis": [1, -1]}, ((4, 5, 3),)),
        Example({"mean": [0.5, -1.0, 2.0], "variance": [4.0, 0.25, 1e-16]}, ((4, 4, 3),),
                data_formats=("channels_last",)),
        Example({"axis": [1, -1], "mean": [[0.5], [-1.0], [2.0]], "variance": [[4.0], [0.25], [9.0]], "invert": True},
                ((4, 4, 3),), data_formats=("channels_first",)),
        Example({"axis": None, "mean": 0.5, "variance": 2.0, "invert": True}, ((5, 3),)),
    )

    axis: Union[Axes, None] = Field(
        -1, description="Axis or axes kept, one statistic per position (Keras counts the batch axis); null: none.")
    mean: Annotated[Floats, Field(union_mode="left_to_right")] | None = Field(
        None, description="Fixed mean (a number or an array over the kept axes); null: a non-trainable weight.")
    variance: Annotated[Floats, Field(union_mode="left_to_right")] | None = Field(
        None, description="Fixed variance, same shape as mean; null: a non-trainable weight.")
    invert: bool = Field(False, description="Compute mean + x * std instead of (x - mean) / std.")

    @model_validator(mode="after")
    def _check_statistics(self):
        if (self.mean is None) != (self.variance is None):
            raise ValueError("mean and variance must be given together")
        if self.mean is None:
            return self
        try:
            mean, variance = np.asarray(self.mean, dtype=np.float64), np.asarray(self.variance, dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"mean and variance must be numbers or rectangular arrays: {exc}") from None
        if mean.shape != variance.shape:
            raise ValueError(f"mean {list(mean.shape)} and variance {list(variance.shape)} must have the same shape")
        if mean.ndim > len(self.kept()):
            raise ValueError(f"mean has rank {mean.ndim}, more than the {len(self.kept())} axes kept")
        if (variance < 0).any():
            raise ValueError("variance must not be negative")
        return self

    def kept(self) -> list[int]:
        if self.axis is None:
            return []
        return [self.axis] if isinstance(self.axis, int) else list(self.axis)

    def kept_axes(self, shape: Shape) -> list[int]:
        """Per-sample indices of the kept axes, sorted as Keras sorts them."""
        return sorted(sample_axes(self.kept(), len(shape))) if self.kept() else []

    def view(self, shape: Shape) -> tuple[int, ...]:
        """The batched shape the statistics broadcast as: 1 on the reduced axes."""
        kept = self.kept_axes(shape)
        return (1, *(size if i in kept else 1 for i, size in enumerate(shape)))

    def constants(self, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
        """The given mean and variance, laid onto `view(shape)` the way Keras lays them."""
        kept, view = self.kept_axes(shape), self.view(shape)
        arrays = []
        for value in (self.mean, self.variance):
            array = np.asarray(value, dtype=np.float32)
            expanded = [1] * len(view)
            for i in range(1, array.ndim + 1):  # right-aligned with the kept axes
                expanded[kept[-i] + 1] = array.shape[-i]
            try:
                arrays.append(np.broadcast_to(array.reshape(expanded), view))
            except ValueError:
                raise ShapeError(
                    f"mean and variance of shape {list(array.shape)} do not fit the kept axes {self.axis} "
                    f"of {fmt_shape(shape)}") from None
        return arrays[0], arrays[1]

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        if self.mean is not None:
            self.constants(input_shapes[0])
        else:
            self.kept_axes(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        if self.mean is not None:
            return []
        shape = input_shapes[0]
        dims = tuple(shape[a] for a in self.kept_axes(shape))
        return [
            Weight("mean", dims, "zeros", trainable=False),
            Weight("variance", dims, "ones", trainable=False),
            Weight("count", (), "zeros", trainable=False),
        ]

    def keras_layer(self, data_format, name):
        from archspec.backends.keras.layers import generic_layer

        layer = generic_layer(self, data_format, name)
        # Keras's Normalization computes its statistics once, when it is built or loads a weights
        # file (finalize_state), so assigning its variables afterwards would leave it using the
        # old values; and traced for export, those precomputed tensors are captured, which tf2onnx
        # turns into extra graph inputs. This layer (still keras.layers.Normalization, saved and
        # loaded as such) computes the same function from its variables, or from the config's
        # numbers as graph constants, at each call.
        layer.call = types.MethodType(_call_from_variables, layer)
        return layer

    def torch_setup(self, module, input_shapes, data_format):
        import torch

        shape = input_shapes[0]
        module.view = self.view(shape)
        # a channels_last spec's tensor held channels-first: move the statistics' axes alike
        rank = len(shape)
        module.order = (0, rank, *range(1, rank)) if module.internal_channels_first else None
        if self.mean is not None:
            mean, variance = (torch.tensor(a) for a in self.constants(shape))
            if module.order is not None:
                mean, variance = mean.permute(module.order), variance.permute(module.order)
            module.register_buffer("fixed_mean", mean.contiguous(), persistent=False)
            module.register_buffer("fixed_variance", variance.contiguous(), persistent=False)

    def torch_forward(self, module, x):
        import torch

        if self.mean is not None:
            mean, variance = module.fixed_mean, module.fixed_variance
        else:
            mean, variance = module.mean.reshape(module.view), module.variance.reshape(module.view)
            if module.order is not None:
                mean, variance = mean.permute(module.order), variance.permute(module.order)
        std = torch.clamp(torch.sqrt(variance), min=_STD_FLOOR)
        return mean + x * std if self.invert else (x - mean) / std


def _call_from_variables(layer, inputs):
    """keras.layers.Normalization's call, with the statistics read when it runs."""
    import keras

    ops = keras.ops
    inputs = ops.convert_to_tensor(inputs, dtype=layer.compute_dtype)
    if layer.input_mean is None:
        mean = ops.cast(ops.reshape(layer.adapt_mean, layer._broadcast_shape), layer.compute_dtype)
        variance = ops.cast(ops.reshape(layer.adapt_variance, layer._broadcast_shape), layer.compute_dtype)
    else:
        mean = ops.convert_to_tensor(np.asarray(layer.mean), dtype=layer.compute_dtype)
        variance = ops.convert_to_tensor(np.asarray(layer.variance), dtype=layer.compute_dtype)
    std = ops.maximum(ops.sqrt(variance), keras.config.epsilon())
    return ops.add(mean, ops.multiply(inputs, std)) if layer.invert else ops.divide(ops.subtract(inputs, mean), std)
