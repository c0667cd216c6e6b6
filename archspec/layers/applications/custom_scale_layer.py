"""CustomScaleLayer (Inception-ResNet's, from keras.applications)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape
from archspec.layers.merging.base_merge import broadcast_shapes
from archspec.layers.registry import register


@lru_cache(maxsize=None)
def keras_class():
    """The Keras layer: keras.applications.inception_resnet_v2's CustomScaleLayer."""
    import keras

    @keras.saving.register_keras_serializable(package="archspec")
    class CustomScaleLayer(keras.layers.Layer):
        def __init__(self, scale, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, inputs):
            return inputs[0] + inputs[1] * self.scale

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    return CustomScaleLayer


@register("CustomScaleLayer")
class CustomScaleLayer(Layer):
    """`x + residual * scale` for inputs [x, residual], Inception-ResNet's `CustomScaleLayer`
    (keras.applications.inception_resnet_v2; not in keras.layers).

    Args:
        scale: the factor of the residual branch (Inception-ResNet v2: 0.17, 0.1 and 0.2).

    Input shapes: two, of one shape (axes of size 1 broadcast). Output shape: the same.
    """

    min_inputs = 2
    max_inputs = 2
    examples = (
        Example({"scale": 0.17}, ((4, 4, 3), (4, 4, 3))),
        Example({"scale": 0.1}, ((6,), (6,))),
        Example({"scale": 2.0}, ((3, 4, 5), (1, 1, 5))),
    )

    scale: float = Field(..., description="Factor of the residual (the second input).")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        return broadcast_shapes(input_shapes)

    def torch_forward(self, module, x, residual):
        return x + residual * self.scale

    def keras_layer(self, data_format: DataFormat, name: str):
        return keras_class()(self.scale, name=name)
