"""archspec: declare a neural network once, in YAML; get Keras, PyTorch and ONNX that agree."""

from __future__ import annotations

__version__ = "0.1.0"

from archspec.errors import ArchspecError
from archspec.spec import Spec, load, loads

_API = ("build", "get_weights", "load_weights", "save_weights", "set_weights", "spec_of")

__all__ = ["ArchspecError", "Spec", "__version__", "load", "loads", *_API]


def __getattr__(name: str):
    # the API pulls in numpy and the weights file format: loaded on first use, so that
    # `archspec summary` and `validate` start fast
    if name in _API:
        from archspec import api

        return getattr(api, name)
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
