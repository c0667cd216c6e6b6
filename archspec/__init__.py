"""archspec: declare a neural network once, in YAML; get Keras, PyTorch and ONNX that agree."""

from __future__ import annotations

__version__ = "0.1.0"

from archspec.errors import ArchspecError
from archspec.spec import Spec, load, loads

__all__ = ["ArchspecError", "Spec", "__version__", "load", "loads"]
