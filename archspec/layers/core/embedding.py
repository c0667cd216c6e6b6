"""Embedding."""

from __future__ import annotations

from pydantic import Field

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, Weight
from archspec.layers.registry import register


@register("Embedding")
class Embedding(Layer):
    """A learned vector per integer id, `keras.layers.Embedding`; takes an integer input.

    Args:
        input_dim: vocabulary size (ids are in [0, input_dim)).
        output_dim: size of each vector.
        mask_zero: id 0 is padding: the output carries a mask (id != 0) that the layers after
            it use as Keras does (masked pooling; RNNs skip those steps).

    Input shape: (batch, ...) integers. Output shape: (batch, ..., output_dim).
    """

    torch_layout_default = "spec"
    mask_policy = "produce"
    examples = (
        Example({"input_dim": 10, "output_dim": 4}, ((None,),), input_dtypes=("int32",)),
        Example({"input_dim": 7, "output_dim": 3, "mask_zero": True, "embeddings_initializer": "glorot_uniform"},
                ((5,),), input_dtypes=("int64",)),
        Example({"input_dim": 6, "output_dim": 2}, ((None, 3),), input_dtypes=("int32",),
                data_formats=("channels_last",)),
    )

    input_dim: int = Field(..., ge=1, strict=True, description="Vocabulary size: ids are in [0, input_dim).")
    output_dim: int = Field(..., ge=1, strict=True, description="Size of each embedding vector.")
    embeddings_initializer: Initializer = Field("uniform", description="Initializer of the table (Keras: uniform ±0.05).")
    mask_zero: bool = Field(False, description="Id 0 is padding: the output carries a mask (id != 0).")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        return (*input_shapes[0], self.output_dim)

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        return [Weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)]

    def integer_input_bound(self) -> int | None:
        return self.input_dim

    def torch_layout(self, input_shapes, data_format):
        return "spec"

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        return F.embedding(x, module.embeddings)

    def torch_mask(self, module, inputs, masks):
        return inputs[0] != 0 if self.mask_zero else None
