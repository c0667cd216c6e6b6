"""LayerScale (ConvNeXt's, from keras.applications)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register


def constant_initializer(value: float) -> str:
    """archspec's initializer name for a constant fill."""
    if value == 0:
        return "zeros"
    if value == 1:
        return "ones"
    return f"constant:{float(value)!r}"


@lru_cache(maxsize=None)
def keras_class():
    """The Keras layer: keras.applications.convnext's LayerScale, with its variable named `gamma`."""
    import keras

    @keras.saving.register_keras_serializable(package="archspec")
    class LayerScale(keras.layers.Layer):
        def __init__(self, init_values, projection_dim, **kwargs):
            super().__init__(**kwargs)
            self.init_values = init_values
            self.projection_dim = projection_dim

        def build(self, input_shape):
            # keras.applications leaves this variable unnamed, so Keras calls it `variable`,
            # `variable_1`, ... by creation order; a neutral key needs a stable name: the attribute's
            self.gamma = self.add_weight(shape=(self.projection_dim,), name="gamma",
                                         initializer=keras.initializers.Constant(self.init_values), trainable=True)

        def call(self, x):
            return x * self.gamma

        def get_config(self):
            return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}

    return LayerScale


@register("LayerScale")
class LayerScale(Layer):
    """Multiplies the last axis by a learned vector `gamma`, ConvNeXt's `LayerScale`
    (keras.applications.convnext; not in keras.layers).

    Args:
        init_values: the initial value of every entry of gamma (ConvNeXt: 1e-6).
        projection_dim: the length of gamma: the size of the input's last axis.

    Weights: `gamma`, (projection_dim,). keras.applications's own layer leaves the variable
    unnamed (Keras calls it `variable`, `variable_1`, ... in creation order); archspec's Keras
    layer names it after the attribute, `gamma`, so that the neutral key is stable.
    Input and output shape: the same (a last axis of 1 broadcasts to projection_dim).
    """

    examples = (
        Example({"init_values": 1.0, "projection_dim": 6}, ((6,),)),
        Example({"init_values": 1.0, "projection_dim": 3}, ((4, 4, 3),), data_formats=("channels_last",)),
        Example({"init_values": 1.0, "projection_dim": 4}, ((5, 4, 3),), data_formats=("channels_first",)),
        Example({"init_values": 1.0, "projection_dim": 4}, ((5, 1),), data_formats=("channels_last",)),
    )

    init_values: float = Field(..., description="Initial value of every entry of gamma (ConvNeXt: 1e-6).")
    projection_dim: int = Field(..., ge=1, strict=True, description="Length of gamma: the input's last axis.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        if shape[-1] not in (1, self.projection_dim):
            raise ShapeError(f"the last axis of the input {fmt_shape(shape)} must be projection_dim "
                             f"({self.projection_dim})")
        return (*shape[:-1], self.projection_dim)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        return [Weight("gamma", (self.projection_dim,), constant_initializer(self.init_values))]

    def torch_setup(self, module, input_shapes, data_format):
        rank = len(input_shapes[0])
        # a channels_last spec's tensor held channels-first has its last axis on dim 1
        module.gamma_view = (-1, *[1] * (rank - 1)) if module.internal_channels_first else (-1,)

    def torch_forward(self, module, x):
        return x * module.gamma.view(module.gamma_view)

    def keras_layer(self, data_format: DataFormat, name: str):
        return keras_class()(self.init_values, self.projection_dim, name=name)
