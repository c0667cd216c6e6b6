"""The neutral weights file (SPEC-FORMAT section 5) and seeded initial weights.

Keys are `<layer name>/<weight name>`, arrays float32 in Keras's layout. Initial weights
are drawn here, with numpy and Keras's distributions, so that a seed gives the same
numbers in every backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from archspec import __version__
from archspec.errors import ArchspecError
from archspec.fileio import atomic_write_bytes
from archspec.initializers import distribution, orthogonal, orthogonal_draw_shape, parts
from archspec.spec import Spec

FORMAT = "archspec-neutral-1"
Weights = dict[str, np.ndarray]


def init_weights(spec: Spec, seed: int = 0, randomize_statistics: bool = False) -> Weights:
    """Initial weights drawn from each weight's Keras initializer.

    `randomize_statistics` also draws batch-norm gamma/beta and moving statistics away from
    their neutral values, so that an equivalence check exercises them.
    """
    rng = np.random.default_rng(seed)

    def draw(initializer: str, shape: tuple[int, ...]) -> np.ndarray:
        kind, value = distribution(initializer, shape)
        if kind == "constant":
            return np.full(shape, value)
        if kind == "uniform":
            return rng.uniform(-value, value, shape)
        if kind == "normal":
            return rng.normal(0.0, value, shape)
        if kind == "orthogonal":
            return value * orthogonal(rng.normal(0.0, 1.0, orthogonal_draw_shape(shape)), shape)
        # truncated at two standard deviations, by resampling like TensorFlow
        array = rng.normal(0.0, value, shape)
        outside = np.abs(array) > 2 * value
        while outside.any():
            array[outside] = rng.normal(0.0, value, int(outside.sum()))
            outside = np.abs(array) > 2 * value
        return array

    weights: Weights = {}
    for key, weight in spec.weight_keys().items():
        if randomize_statistics and weight.name in ("gamma", "moving_variance"):
            array = rng.uniform(0.5, 1.5, weight.shape)
        elif randomize_statistics and weight.name in ("beta", "moving_mean"):
            array = rng.normal(0.0, 0.2, weight.shape)
        else:
            pieces = [draw(name, shape) for name, shape in parts(weight.initializer, weight.shape)]
            array = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)  # a scalar weight cannot be concatenated
        weights[key] = np.asarray(array, dtype=np.float32, order="C")
    return weights


def check_weights(spec: Spec, weights: Mapping[str, np.ndarray], source: str = "weights") -> None:
    """Every key the spec needs, with its shape, and nothing else; else a clear error."""
    expected = spec.weight_keys()
    problems = []
    for key in expected:
        if key not in weights:
            problems.append(f"{source}: missing weight '{key}' (expected shape {list(expected[key].shape)})")
    for key, array in weights.items():
        if key not in expected:
            problems.append(f"{source}: unexpected weight '{key}' (shape {list(array.shape)}): the spec has no such weight")
        elif tuple(array.shape) != tuple(expected[key].shape):
            problems.append(
                f"{source}: weight '{key}' has shape {list(array.shape)}, the spec needs {list(expected[key].shape)}"
            )
    if problems:
        raise ArchspecError("\n".join(problems))


def write_weights(weights: Mapping[str, np.ndarray], path: str | Path, spec: Spec | None = None,
                  extra: Mapping[str, str] | None = None) -> Path:
    from safetensors.numpy import save

    metadata = {"format": FORMAT, "archspec_version": __version__}
    if spec is not None:
        metadata.update({"spec": spec.name, "data_format": spec.data_format})
    metadata.update(extra or {})
    arrays = {k: np.asarray(v, dtype=np.float32, order="C") for k, v in weights.items()}
    path = Path(path)
    # save_file() would write a temporary file of its own, mode 0o600, and rename it onto ours:
    # the bytes go through archspec's atomic writer, which gives the file the umask's mode
    atomic_write_bytes(path, save(arrays, metadata=metadata))
    return path


def read_weights(path: str | Path, spec: Spec | None = None) -> Weights:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise ArchspecError(f"weights file not found: {path}")
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArchspecError(f"{path}: not a safetensors weights file ({exc})") from None
    if spec is not None:
        check_weights(spec, weights, str(path))
    return weights
