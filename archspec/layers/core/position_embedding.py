"""PositionEmbedding (keras_hub's)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, fmt_shape
from archspec.layers.registry import register


@lru_cache(maxsize=None)
def keras_class():
    """The Keras layer: keras_hub.layers.PositionEmbedding's function (keras_hub is not a dependency)."""
    import keras

    @keras.saving.register_keras_serializable(package="archspec")
    class PositionEmbedding(keras.layers.Layer):
        def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
            super().__init__(**kwargs)
            self.sequence_length = int(sequence_length)
            self.initializer = keras.initializers.get(initializer)

        def build(self, input_shape):
            self.position_embeddings = self.add_weight(
                name="embeddings", shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer,
                trainable=True)

        def call(self, inputs):
            shape = keras.ops.shape(inputs)
            table = keras.ops.slice(self.position_embeddings, (0, 0), (shape[-2], shape[-1]))
            return keras.ops.broadcast_to(table, shape)

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "sequence_length": self.sequence_length,
                    "initializer": keras.initializers.serialize(self.initializer)}

    return PositionEmbedding


@register("PositionEmbedding")
class PositionEmbedding(Layer):
    """A learned position embedding, keras_hub's `PositionEmbedding` (keras_hub.layers; not in keras.layers).

    Learns a (sequence_length, features) table; the output is its first `steps` rows broadcast
    to the input's shape, where steps is the input's second-to-last axis and features its
    last. The input's values are not used: add the output to the input (Add) for position
    information, as keras_hub's models do.

    Args:
        sequence_length: the longest sequence the table covers; a free length (None) may take
            any value up to it.
        initializer: initializer of the table.

    Weights: `embeddings`, (sequence_length, features).
    Input shape: (batch, ..., steps, features). Output shape: the same.
    """

    torch_layout_default = "spec"
    examples = (
        Example({"sequence_length": 64}, ((None, 4),), data_formats=("channels_last",)),
        Example({"sequence_length": 9, "initializer": "he_uniform"}, ((6, 3),)),
        Example({"sequence_length": 5}, ((2, 5, 3),), data_formats=("channels_last",)),
    )

    sequence_length: int = Field(..., ge=1, strict=True, description="Rows of the table: the longest sequence it covers.")
    initializer: Initializer = Field("glorot_uniform", description="Initializer of the table.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        if len(shape) < 2:
            raise ShapeError(f"expects (batch, ..., steps, features), got {fmt_shape(shape)}")
        if shape[-1] is None:
            raise ShapeError("needs a fixed size on its last axis (features), but it is free (None)")
        if shape[-2] is not None and shape[-2] > self.sequence_length:
            raise ShapeError(f"has a table of sequence_length {self.sequence_length} rows, shorter than the "
                             f"input's {shape[-2]} steps")
        return shape

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        return [Weight("embeddings", (self.sequence_length, input_shapes[0][-1]), self.initializer)]

    def torch_forward(self, module, x):
        # a copy, not a view of the parameter: an output that aliases a weight would be
        # changed by the next optimizer step and cannot leave inference mode as a plain array
        return module.embeddings[: x.shape[-2]].expand(x.shape).contiguous()

    def keras_layer(self, data_format: DataFormat, name: str):
        from archspec.backends.keras.layers import initializer

        return keras_class()(self.sequence_length, initializer(self.initializer), name=name)
