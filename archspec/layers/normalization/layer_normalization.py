"""LayerNormalization, and the axis-list helpers the per-sample normalisations share."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, keras_axis
from archspec.layers.registry import register

StrictInt = Annotated[int, Field(strict=True)]
Axes = Union[StrictInt, Annotated[list[StrictInt], Field(min_length=1)]]
"""An axis or a list of axes, Keras's way: counting the batch axis, negative from the end."""


def axis_list(axis: int | list[int]) -> list[int]:
    return [axis] if isinstance(axis, int) else list(axis)


def sample_axes(axis: int | list[int], rank: int) -> list[int]:
    """Per-sample indices of Keras axes (batch axis excluded), in the order given; no repeats."""
    axes = [keras_axis(a, rank) for a in axis_list(axis)]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axis {axis} names an axis twice")
    return axes


def keras_weight_shape(axis: int | list[int], shape: Shape) -> Shape:
    """The shape Keras gives a weight spanning `axis`: the axes' sizes in the order of
    `sorted(axis)` on the values as written, so [1, -1] gives (last, first) sizes."""
    rank = len(shape)
    return tuple(shape[keras_axis(a, rank)] for a in sorted(axis_list(axis)))


def broadcast_shape(axes: list[int], shape: Shape) -> tuple[int, ...]:
    """A batched tensor shape that is 1 everywhere but `axes` (per-sample indices)."""
    return (1, *(size if i in axes else 1 for i, size in enumerate(shape)))


@register("LayerNormalization")
class LayerNormalization(Layer):
    """Layer normalization, `keras.layers.LayerNormalization`, with Keras's defaults and rules.

    Each sample is normalised over `axis`: `(x - mean) * rsqrt(variance + epsilon) * gamma + beta`,
    with the mean and the biased variance taken over those axes, in float32.

    Args:
        axis: the axis or axes to normalise over, counting the batch axis like Keras (-1: the
            last). gamma and beta span these axes; their shape lists the axes' sizes in the order
            of Keras's `sorted(axis)` on the values as written (so `[1, -1]` puts the last axis
            first) and Keras reshapes them onto the input in axis order, as done here.
        epsilon: added to the variance.
        center, scale: learn beta / gamma.
        rms_scaling: Keras's deprecated option (it warns): `x * rsqrt(variance + epsilon) * gamma`,
            no mean subtracted and no beta; gamma exists even with scale false. Not RMS
            normalisation: see RMSNormalization.

    Input and output shape: the same, any rank.
    """

    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((5, 6, 4),)),
        Example({"axis": [1, 2, 3], "center": False, "gamma_initializer": "glorot_uniform"}, ((5, 6, 4),)),
        Example({"axis": [1, -1], "epsilon": 0.1, "scale": False}, ((3, 4, 5),)),
        Example({"axis": -2, "rms_scaling": True, "epsilon": 1e-5}, ((6, 7),)),
    )

    axis: Axes = Field(-1, description="Axis or axes to normalise over (Keras counts the batch axis; -1 is the last).")
    epsilon: float = Field(1e-3, gt=0.0, description="Added to the variance.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")
    rms_scaling: bool = Field(
        False, description="Keras's deprecated option: x * rsqrt(variance + epsilon) * gamma, no mean, no beta.")
    beta_initializer: Initializer = Field("zeros", description="Initializer of beta.")
    gamma_initializer: Initializer = Field("ones", description="Initializer of gamma.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        sample_axes(self.axis, len(input_shapes[0]))
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        shape = keras_weight_shape(self.axis, input_shapes[0])
        weights = []
        if self.scale or self.rms_scaling:
            weights.append(Weight("gamma", shape, self.gamma_initializer, torch_name="weight"))
        if self.center and not self.rms_scaling:
            weights.append(Weight("beta", shape, self.beta_initializer, torch_name="bias"))
        return weights

    def keras_config(self, data_format):
        config = super().keras_config(data_format)
        if not self.rms_scaling:  # Keras takes it from **kwargs and warns whenever it is true
            del config["rms_scaling"]
        return config

    def torch_setup(self, module, input_shapes, data_format):
        shape = input_shapes[0]
        axes = sorted(sample_axes(self.axis, len(shape)))
        module.dims = [a + 1 for a in axes]
        module.view = broadcast_shape(axes, shape)
        # the trailing axes in order: F.layer_norm computes the same (biased variance, epsilon
        # inside the rsqrt), gamma and beta reshaped onto them as Keras reshapes them
        trailing = axes == list(range(len(shape) - len(axes), len(shape)))
        module.fused = trailing and not self.rms_scaling
        module.normalized_shape = tuple(shape[a] for a in axes)

    def torch_forward(self, module, x):
        import torch
        import torch.nn.functional as F

        gamma, beta = getattr(module, "weight", None), getattr(module, "bias", None)
        if module.fused:
            shape = module.normalized_shape
            return F.layer_norm(x, shape, None if gamma is None else gamma.reshape(shape),
                                None if beta is None else beta.reshape(shape), self.epsilon)
        var, mean = torch.var_mean(x, dim=module.dims, correction=0, keepdim=True)
        inv = torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            inv = inv * gamma.reshape(module.view)
        if self.rms_scaling:
            return x * inv
        shift = -mean * inv
        if beta is not None:
            shift = shift + beta.reshape(module.view)
        return x * inv + shift
