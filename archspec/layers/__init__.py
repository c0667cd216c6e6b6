"""The layer catalogue. Importing this package registers every layer type.

To add a layer type: write its config class (params, shape rule, weights, MACs) in the
module of its family here, decorate it with `@register("KerasName")`, then add its
computation to each backend (`archspec/backends/*/layers.py`).
"""

from archspec.layers import convolutional, core, merging, normalization, pooling, reshaping  # noqa: F401
from archspec.layers.base import Layer, Shape, ShapeError, Weight, snake_case
from archspec.layers.registry import LAYERS, all_type_names, canonical_type, layer_class, register

__all__ = [
    "LAYERS", "Layer", "Shape", "ShapeError", "Weight", "all_type_names", "canonical_type", "layer_class",
    "register", "snake_case",
]
