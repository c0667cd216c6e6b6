"""The layer catalogue: one module per layer type, registered when this package is imported.

To add a layer type, write one module in the family's folder (e.g. `convolutional/`): a
pydantic config class decorated with `@register("KerasName")`, with its shape rule,
weights (Keras's layout, and how PyTorch holds them), MACs, examples and PyTorch forward.
It is found and registered by itself; the contract test runs its examples in every backend.
"""

import importlib
import pkgutil

from archspec.layers.base import Example, Layer, Shape, ShapeError, Weight, snake_case
from archspec.layers.registry import LAYERS, canonical_type, layer_class, list_layers, register


def _register_all() -> None:
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if not info.ispkg:
            importlib.import_module(info.name)


_register_all()

__all__ = [
    "LAYERS", "Example", "Layer", "Shape", "ShapeError", "Weight", "canonical_type", "layer_class", "list_layers",
    "register", "snake_case",
]
