"""The layer catalogue: one module per layer type, in family folders like Keras's.

To add a layer type, write one module in the family's folder (e.g. `convolutional/`): a
pydantic config class with its Keras name on a `@register` line, its shape rule, weights
(Keras's layout, and how PyTorch holds them), MACs, examples and PyTorch forward. The
registry finds it by itself (see registry.py); the contract test runs its examples in
every backend.
"""

from archspec.layers.base import Example, Layer, Shape, ShapeError, Weight, snake_case
from archspec.layers.registry import LAYERS, canonical_type, layer_class, list_layers, load_all, register

__all__ = [
    "LAYERS", "Example", "Layer", "Shape", "ShapeError", "Weight", "canonical_type", "layer_class", "list_layers",
    "load_all", "register", "snake_case",
]
