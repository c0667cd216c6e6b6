"""The Python API: build a spec in a backend, move weights between backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError
from archspec.spec import Spec, load
from archspec.weights import Weights, init_weights, read_weights, write_weights

BACKENDS = ("keras", "torch")


def _spec(spec_or_path: Spec | str | Path) -> Spec:
    return spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path)


def _backend(name: str):
    if name == "keras":
        from archspec.backends import keras as backend
    elif name == "torch":
        from archspec.backends import torch as backend
    else:
        raise ArchspecError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    return backend


def build(
    spec_or_path: Spec | str | Path,
    backend: str = "keras",
    weights: str | Path | Weights | None = None,
    seed: int | None = None,
) -> Any:
    """A `keras.Model` or a `torch.nn.Module` computing the spec.

    `weights`: a neutral safetensors file (or a dict of arrays). `seed`: initial weights
    drawn by archspec from Keras's distributions, identical in every backend. Neither:
    the backend's own random initialisation (still Keras's distributions).
    """
    spec = _spec(spec_or_path)
    module = _backend(backend)
    if isinstance(weights, (str, Path)):
        weights = read_weights(weights, spec)
    elif weights is None and seed is not None:
        weights = init_weights(spec, seed)
    if backend == "torch" and seed is not None:
        import torch

        torch.manual_seed(seed)
    if backend == "keras" and seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    model = module.build_model(spec, weights)
    _remember(model, spec)
    return model


def _remember(model: Any, spec: Spec) -> None:
    # an attribute, not a registry: the spec lives exactly as long as its model
    object.__setattr__(model, "_archspec_spec", spec)


def spec_of(model: Any) -> Spec:
    """The spec a model was built from (by `build`)."""
    spec = getattr(model, "_archspec_spec", None) or getattr(model, "spec", None)
    if not isinstance(spec, Spec):
        raise ArchspecError("this model was not built by archspec.build, so its spec is unknown")
    return spec


def backend_of(model: Any) -> str:
    module = type(model).__module__
    if module.startswith("archspec.backends.torch") or module.startswith("torch"):
        return "torch"
    return "keras"


def get_weights(model: Any) -> Weights:
    spec = spec_of(model)
    if backend_of(model) == "torch":
        return model.get_neutral_weights()
    from archspec.backends.keras import get_weights as keras_weights

    return keras_weights(model, spec)


def set_weights(model: Any, weights: Weights) -> None:
    spec = spec_of(model)
    if backend_of(model) == "torch":
        model.set_neutral_weights(weights)
    else:
        from archspec.backends.keras import set_weights as keras_set

        keras_set(model, spec, weights)


def save_weights(model: Any, path: str | Path) -> Path:
    """Write a model's weights as a neutral safetensors file (Keras layout)."""
    return write_weights(get_weights(model), path, spec_of(model), {"backend": backend_of(model)})


def load_weights(model: Any, path: str | Path) -> None:
    """Load a neutral weights file into a model built by `archspec.build` (either backend)."""
    set_weights(model, read_weights(path, spec_of(model)))
