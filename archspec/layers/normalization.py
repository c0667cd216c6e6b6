"""BatchNormalization."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Layer, Shape, Weight, keras_axis
from archspec.layers.initializers import Initializer
from archspec.layers.registry import register


@register("BatchNormalization")
class BatchNormalization(Layer):
    """Batch normalization with Keras's defaults (momentum 0.99, epsilon 1e-3).

    `axis` counts the batch axis like Keras: -1 is the channel axis of channels_last.
    The moving statistics are weights too, never trainable.
    """

    axis: int = -1
    momentum: float = Field(0.99, ge=0.0, le=1.0)
    epsilon: float = Field(1e-3, gt=0.0)
    center: bool = True
    scale: bool = True
    beta_initializer: Initializer = "zeros"
    gamma_initializer: Initializer = "ones"
    moving_mean_initializer: Initializer = "zeros"
    moving_variance_initializer: Initializer = "ones"

    def feature_axis(self, shape: Shape) -> int:
        return keras_axis(self.axis, len(shape))

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self.feature_axis(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        shape = input_shapes[0]
        dim = (shape[self.feature_axis(shape)],)
        weights = []
        if self.scale:
            weights.append(Weight("gamma", dim, self.gamma_initializer))
        if self.center:
            weights.append(Weight("beta", dim, self.beta_initializer))
        weights.append(Weight("moving_mean", dim, self.moving_mean_initializer, trainable=False))
        weights.append(Weight("moving_variance", dim, self.moving_variance_initializer, trainable=False))
        return weights
