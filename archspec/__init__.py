"""archspec: declare a neural network once, in YAML; get Keras, PyTorch and ONNX that agree."""

from __future__ import annotations

__version__ = "0.1.0"

from archspec.errors import ArchspecError
from archspec.spec import Spec, load, loads
from archspec.api import build, get_weights, load_weights, save_weights, set_weights, spec_of

__all__ = [
    "ArchspecError", "Spec", "__version__", "build", "get_weights", "load", "load_weights", "loads", "save_weights",
    "set_weights", "spec_of",
]
